// The built CLI (`node dist/main.js serve`) as a child process, for signals and crashes.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN = path.join(ROOT, 'dist/main.js');

export interface ChildServer {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stderr(): string;
}

export async function spawnServer(configPath: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const proc = spawn(process.execPath, [MAIN, 'serve', '--config', configPath], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  let err = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ unparsed: line });
      }
      for (const w of [...waiters]) w();
    }
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const waitForLine = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching log line; stderr: ${err}`));
      }, timeoutMs);
      const check = (): void => {
        const f = lines.find(pred);
        if (f) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(f);
        }
      };
      waiters.add(check);
      void exited.then(() => {
        if (waiters.has(check)) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`server exited; stderr: ${err}`));
        }
      });
    });
  };
  const listening = await waitForLine((l) => l['event'] === 'listening' && l['proto'] === 'smtp');
  return { proc, port: Number(listening['port']), lines, exited, waitForLine, stderr: () => err };
}
