// `serve` when a socket cannot be opened (exit 1, a stable reason, a hint on stderr), port 25 as an
// unprivileged user with and without CAP_NET_BIND_SERVICE (what deploy/catchall-guard.service grants),
// and SIGHUP changes a running process cannot apply (the reload event's restartNeeded).
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, MAIN_JS } from '../helpers/build-dist.js';
import { cleanEnv, runCli } from '../helpers/cli.js';
import { spawnServer } from '../helpers/child-server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';

const SETPRIV = '/usr/bin/setpriv';
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];

beforeAll(() => buildDist(), 180_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configFor(raw: RawConfig): { configPath: string; dataDir: string; dir: string } {
  const c = writeConfig(raw);
  dirs.push(c.dir);
  return c;
}

/** A port on 127.0.0.1 held open by this test process until `close`. */
async function occupiedPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const events = (stdout: string): Record<string, unknown>[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('serve: a socket that cannot be opened', () => {
  it('the SMTP port in use: exit 1, reason listen-address-in-use, the hint on stderr, no stack trace', async () => {
    const held = await occupiedPort();
    try {
      const { configPath } = configFor(baseConfig({ server: { listen: { host: '127.0.0.1', port: held.port } } }));
      const r = await runCli(['serve', '--config', configPath]);
      expect(r.code).toBe(1);
      const error = events(r.stdout).find((e) => e['event'] === 'error');
      expect(error).toMatchObject({
        level: 'error',
        where: 'listen',
        reason: 'listen-address-in-use',
        error: `listen EADDRINUSE: address already in use 127.0.0.1:${held.port}`,
      });
      expect(String(error?.['hint'])).toContain(`ss -ltnp 'sport = :${held.port}'`);
      expect(r.stderr).toBe(
        `catchall-guard: cannot listen on 127.0.0.1:${held.port} (server.listen): listen EADDRINUSE: address already in use 127.0.0.1:${held.port} [listen-address-in-use]\n  hint: ${String(error?.['hint'])}\n`,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await held.close();
    }
  });

  it('the HTTP port in use: the hint names http.listen, and the SMTP listener that was already up is closed', async () => {
    const held = await occupiedPort();
    try {
      const { configPath } = configFor(baseConfig({ http: { listen: { host: '127.0.0.1', port: held.port } } }));
      const r = await runCli(['serve', '--config', configPath]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${held.port} (http.listen)`);
      expect(r.stderr).toContain('choose another http.listen.port');
      const ev = events(r.stdout);
      expect(ev.find((e) => e['event'] === 'error')).toMatchObject({ reason: 'listen-address-in-use' });
      expect(ev.some((e) => e['event'] === 'listening' && e['proto'] === 'smtp')).toBe(true);
      expect(ev.at(-1)).toMatchObject({ event: 'shutdown', phase: 'done' });
    } finally {
      await held.close();
    }
  });
});

describe('serve: a port below 1024 as an unprivileged user', () => {
  /** A free port below 1024 (root can bind it to look), or 25 when this test is not root. */
  async function privilegedPort(): Promise<number> {
    expect(
      Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')),
      'ports below 1024 must be privileged on this machine',
    ).toBeGreaterThanOrEqual(1024);
    if (!isRoot) return 25;
    for (let port = 1023; port > 600; port--) {
      const free = await new Promise<boolean>((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(false));
        s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
      });
      if (free) return port;
    }
    throw new Error('no free port between 601 and 1023 on 127.0.0.1');
  }

  /** A config and data directory the unprivileged user can read and write. */
  function unprivilegedSetup(port: number): { configPath: string } {
    const c = configFor(baseConfig({ server: { listen: { host: '127.0.0.1', port } } }));
    chmodSync(c.dir, 0o755);
    mkdirSync(c.dataDir);
    writeFileSync(c.configPath, `dataDir: data\n${readFileSync(c.configPath, 'utf8')}`);
    if (isRoot) chownSync(c.dataDir, NOBODY, NOBODY);
    return c;
  }

  /** `serve` as uid/gid 65534 through setpriv (when root), optionally with an ambient capability. */
  function serveAs(configPath: string, ambient: boolean) {
    const argv = [MAIN_JS, 'serve', '--config', configPath];
    if (isRoot)
      expect(existsSync(SETPRIV), `${SETPRIV} (util-linux) is needed to run as an unprivileged user`).toBe(true);
    const caps = ambient ? ['--inh-caps=+net_bind_service', '--ambient-caps=+net_bind_service'] : [];
    const [cmd, args] = isRoot
      ? [SETPRIV, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...caps, process.execPath, ...argv]]
      : [process.execPath, argv];
    const child = spawn(cmd, args, { cwd: '/', env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, out: () => stdout, err: () => stderr };
  }

  it('without the capability: exit 1, reason listen-permission-denied, the hint names AmbientCapabilities and the redirect', async () => {
    const port = await privilegedPort();
    const { configPath } = unprivilegedSetup(port);
    const s = serveAs(configPath, false);
    expect(await s.exited).toBe(1);
    const error = events(s.out()).find((e) => e['event'] === 'error');
    expect(error).toMatchObject({
      where: 'listen',
      reason: 'listen-permission-denied',
      error: `listen EACCES: permission denied 127.0.0.1:${port}`,
    });
    expect(s.err()).toContain(`catchall-guard: cannot listen on 127.0.0.1:${port} (server.listen)`);
    expect(s.err()).toContain('AmbientCapabilities=CAP_NET_BIND_SERVICE');
    expect(s.err()).toContain('redirect 25 to it');
    expect(s.err()).not.toMatch(/\n\s+at /);
  });

  it('with CAP_NET_BIND_SERVICE as an ambient capability (the systemd unit): listens, greets 220, SIGTERM exits 0', async () => {
    expect(isRoot, 'this test switches to uid 65534 with setpriv and must run as root (CI does)').toBe(true);
    const port = await privilegedPort();
    const { configPath } = unprivilegedSetup(port);
    const s = serveAs(configPath, true);
    try {
      for (let i = 0; i < 100 && !s.out().includes('"event":"listening"'); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(events(s.out()).find((e) => e['event'] === 'listening')).toMatchObject({ port, proto: 'smtp' });
      const { client, greeting } = await RawSmtp.connect(port);
      expect(greeting?.code).toBe(220);
      client.close();
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
    expect(events(s.out()).at(-1)).toMatchObject({ event: 'shutdown', phase: 'done' });
  });
});

describe('SIGHUP: keys a running process cannot take over', () => {
  it('a new listen port: the reload event is a warning naming server.listen, the old port keeps serving; a new log.level is applied', async () => {
    const raw = baseConfig();
    const { dir, configPath, dataDir } = writeConfig(raw);
    dirs.push(dir);
    const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
    try {
      const held = await occupiedPort();
      await held.close(); // a port that was free a moment ago: the reload must not take it
      const server = raw['server'] as RawConfig;
      writeFileSync(
        configPath,
        stringify({ ...raw, server: { ...server, listen: { host: '127.0.0.1', port: held.port } } }),
      );
      s.proc.kill('SIGHUP');
      const reload = await s.waitForLine((l) => l['event'] === 'reload' && l['what'] === 'config');
      expect(reload).toMatchObject({ level: 'warn', ok: true, restartNeeded: ['server.listen'] });
      const { client, greeting } = await RawSmtp.connect(s.port);
      expect(greeting?.code).toBe(220);
      client.close();
      await expect(RawSmtp.connect(held.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

      // back to the port it runs on, and log.level warn: no restart needed, and info events stop
      writeFileSync(configPath, stringify({ ...raw, log: { level: 'warn' } }));
      const before = s.lines.length;
      s.proc.kill('SIGHUP');
      // the reload event itself is info and no longer logged: wait until a session's events would show
      await new Promise((r) => setTimeout(r, 500));
      const again = await RawSmtp.connect(s.port);
      again.client.close();
      await new Promise((r) => setTimeout(r, 500));
      expect(s.lines.slice(before).filter((l) => l['level'] === 'info')).toEqual([]);
    } finally {
      s.proc.kill('SIGTERM');
      await s.exited;
    }
  });
});
