// A real Redis for tests: Debian's redis-server on 127.0.0.1, a free port, no persistence, stopped (and
// paused, for the "slow Redis" cases) by its PID. redis-server missing is an error, not a skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  pid(): number;
  /** Ends the server (SIGKILL: an outage, not a tidy shutdown) and waits for it to be gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP: the socket stays open and nothing answers — a Redis slower than any timeout. */
  pause(): void;
  resume(): void;
}

export function redisServerBinary(): string {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  for (const file of [...dirs.map((d) => path.join(d, 'redis-server')), '/usr/bin/redis-server']) {
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here: the next place
    }
  }
  throw new Error(
    'redis-server is not installed, and these tests need a real Redis: `apt-get install -y redis-server` ' +
      '(.ci/run installs it in CI)',
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once the port takes a PING and answers PONG. */
async function waitForPong(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      let got = '';
      sock.setTimeout(500, () => sock.destroy());
      sock.on('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => {
        got += d.toString();
        if (got.includes('PONG')) {
          sock.destroy();
          resolve(true);
        }
      });
      sock.on('error', () => resolve(false));
      sock.on('close', () => resolve(got.includes('PONG')));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer on port ${port}: ${output()}`);
}

export async function startRedis(): Promise<RedisServer> {
  const binary = redisServerBinary();
  const port = await freePort();
  let child: ChildProcess;
  let output = '';

  async function launch(): Promise<void> {
    output = '';
    child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitForPong(port, child, () => output);
  }

  async function kill(): Promise<void> {
    const c = child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    if (c.pid !== undefined) process.kill(c.pid, 'SIGCONT');
    c.kill('SIGKILL');
    await gone;
  }

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    pid: () => child.pid ?? -1,
    stop: kill,
    async restart() {
      await kill();
      await launch();
    },
    pause() {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGSTOP');
    },
    resume() {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGCONT');
    },
  };
}
