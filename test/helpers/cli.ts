// The built CLI (`node dist/main.js …`) as a child process, with the caller's CATCHALL_GUARD_* variables
// removed so only what a test passes applies. Call buildDist() first.
import { spawn } from 'node:child_process';
import { MAIN_JS, ROOT } from './build-dist.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stdoutBytes: Buffer;
  readonly stderr: string;
}

export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CATCHALL_GUARD_')));
}

/** Asynchronous, so a test worker stays responsive while several run at once. */
export function runCli(
  args: readonly string[],
  opts: {
    env?: Record<string, string>;
    input?: Buffer;
    /** A command the CLI runs under, e.g. setpriv with its options to run as another user. */
    wrapper?: readonly string[];
    cwd?: string;
  } = {},
): Promise<CliResult> {
  const [command, ...prefix] = [...(opts.wrapper ?? []), process.execPath];
  return new Promise((resolve, reject) => {
    const child = spawn(command ?? process.execPath, [...prefix, MAIN_JS, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...cleanEnv(), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? Buffer.alloc(0));
  });
}
