// The built CLI (`node dist/main.js serve`) as a child process, for signals and crashes.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
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

/**
 * `opts.stdoutFile`: the child logs into a file (as into a log driver that never blocks) instead of a
 * pipe this busy test process may drain late; lines are read back from the file.
 */
export async function spawnServer(
  configPath: string,
  env: Record<string, string> = {},
  opts: { stdoutFile?: string } = {},
): Promise<ChildServer> {
  const outFd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : null;
  const proc = spawn(process.execPath, [MAIN, 'serve', '--config', configPath], {
    env: { ...process.env, ...env },
    stdio: ['ignore', outFd ?? 'pipe', 'pipe'],
  });
  if (outFd !== null) closeSync(outFd);
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  let err = '';
  const onData = (d: string): void => {
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
  };
  if (opts.stdoutFile) {
    const file = opts.stdoutFile;
    let offset = 0;
    const readNew = (): void => {
      const size = statSync(file).size;
      if (size <= offset) return;
      const chunk = Buffer.alloc(size - offset);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, chunk, 0, chunk.length, offset);
      } finally {
        closeSync(fd);
      }
      offset = size;
      onData(chunk.toString('utf8'));
    };
    const tail = setInterval(() => {
      try {
        readNew();
      } catch {
        clearInterval(tail); // the test removed its directory: nothing more to read
      }
    }, 50);
    proc.once('exit', () => {
      clearInterval(tail);
      try {
        readNew(); // the last lines, written before the exit
      } catch {
        // already removed
      }
    });
  } else {
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', onData);
  }
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForLine = (
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>> => {
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
