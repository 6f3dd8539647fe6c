// `probe` (the container HEALTHCHECK), run as the built CLI: it checks the SMTP port the running server
// actually bound (its runtime file, <data>/run/<instance>.json), falls back to the configuration when
// there is no live server's file, and its visits leave no info line in the server's log.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRuntimeInfo, runtimeFilePath, type RuntimeInfo } from '../../src/app/runtime-file.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { sendVerbatim, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';
import { closedPort } from '../helpers/upstream-sink.js';

/** `live`: a running app with HTTP; `idle`: a data directory whose app started and stopped cleanly. */
let live: TestApp;
let idle: TestApp;

beforeAll(async () => {
  await buildDist();
  live = await startApp({ http: { listen: { host: '127.0.0.1', port: 0 } } });
  idle = await startApp();
  await idle.app.stop(2000);
}, 240_000);

afterAll(async () => {
  await live.stop();
  rmSync(idle.dir, { recursive: true, force: true });
});

const probe = (configPath: string, env: Record<string, string>): Promise<CliResult> =>
  runCli(['probe', '--config', configPath], { env });

const noStackTrace = (r: CliResult): void => {
  expect(r.stderr).not.toMatch(/\n\s+at /);
};

/** The pid of a process that has exited: nobody answers signal 0 there. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid;
  await new Promise((resolve) => child.once('exit', resolve));
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

function plantRuntimeFile(dataDir: string, info: RuntimeInfo): string {
  const file = runtimeFilePath(dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(info));
  return file;
}

describe('the runtime file', () => {
  it('names this process and the addresses it bound; a clean stop removes it', () => {
    const file = runtimeFilePath(live.dataDir);
    const info = parseRuntimeInfo(readFileSync(file, 'utf8'));
    expect(info).toMatchObject({
      pid: process.pid,
      smtp: { host: '127.0.0.1', port: live.port },
      http: { host: '127.0.0.1', port: live.app.httpAddress()?.port },
    });
    expect(Date.parse(info?.started ?? '')).toBeGreaterThan(Date.now() - 600_000);
    expect(existsSync(runtimeFilePath(idle.dataDir))).toBe(false);
  });

  it.each([
    ['not JSON', '{"pid": 1,'],
    ['no smtp address', '{"pid": 1, "smtp": null, "http": null}'],
    ['port out of range', '{"pid": 1, "smtp": {"host": "127.0.0.1", "port": 70000}, "http": null}'],
    ['pid 0', '{"pid": 0, "smtp": {"host": "127.0.0.1", "port": 25}, "http": null}'],
    ['a malformed http address', '{"pid": 1, "smtp": {"host": "::", "port": 25}, "http": {"port": 9}}'],
    ['an array', '[1, 2]'],
  ])('%s → not one of ours (null)', (_what, text) => {
    expect(parseRuntimeInfo(text)).toBeNull();
  });
});

describe('probe', () => {
  it('checks the bound port, not the one the configuration names now', async () => {
    // the file (port 0: ephemeral) and the environment (a closed port) both name other ports
    const r = await probe(live.configPath, {
      CATCHALL_GUARD_PORT: String(await closedPort()),
      CATCHALL_GUARD_DATA_DIR: live.dataDir,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: 220 /);
  });

  it('without a runtime file: the configured port (exit 0 against a running server)', async () => {
    const r = await probe(idle.configPath, {
      CATCHALL_GUARD_PORT: String(live.port),
      CATCHALL_GUARD_DATA_DIR: idle.dataDir,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: 220 /);
  });

  it('without a runtime file: exit 1 against a closed port, saying the address came from the configuration', async () => {
    const r = await probe(idle.configPath, {
      CATCHALL_GUARD_PORT: String(await closedPort()),
      CATCHALL_GUARD_DATA_DIR: idle.dataDir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/probe failed: .*ECONNREFUSED \(address from the configuration\)/);
    noStackTrace(r);
  });

  it('a runtime file left by a dead process is ignored: the configuration decides', async () => {
    const file = plantRuntimeFile(idle.dataDir, {
      pid: await deadPid(),
      started: new Date().toISOString(),
      smtp: { host: '0.0.0.0', port: await closedPort() },
      http: null,
    });
    try {
      const r = await probe(idle.configPath, {
        CATCHALL_GUARD_PORT: String(live.port),
        CATCHALL_GUARD_DATA_DIR: idle.dataDir,
      });
      expect(r.code).toBe(0);
    } finally {
      rmSync(file);
    }
  });

  it('a live process’s runtime file wins; a failure names the file', async () => {
    const file = plantRuntimeFile(idle.dataDir, {
      pid: process.pid,
      started: new Date().toISOString(),
      smtp: { host: '0.0.0.0', port: await closedPort() },
      http: null,
    });
    try {
      const r = await probe(idle.configPath, {
        CATCHALL_GUARD_PORT: String(live.port),
        CATCHALL_GUARD_DATA_DIR: idle.dataDir,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ECONNREFUSED (address from ${file})`);
      noStackTrace(r);
    } finally {
      rmSync(file);
    }
  });

  it('exit 1 within about 5 s against a server that never greets, and against a 554 greeting', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => void sockets.add(s));
    const busy = net.createServer((s) => s.end('554 5.3.2 too busy\r\n'));
    const listen = (srv: net.Server): Promise<number> =>
      new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)));
    const at = (port: number): Record<string, string> => ({
      CATCHALL_GUARD_PORT: String(port),
      CATCHALL_GUARD_DATA_DIR: idle.dataDir,
    });
    try {
      const started = Date.now();
      const r = await probe(idle.configPath, at(await listen(silent)));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no greeting/);
      expect(Date.now() - started).toBeLessThan(9_000);
      const b = await probe(idle.configPath, at(await listen(busy)));
      expect(b.code).toBe(1);
      expect(b.stderr).toMatch(/unexpected greeting: 554/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      busy.close();
    }
  });
});

describe('the probe in the server log', () => {
  const connections = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${live.app.httpAddress()?.port}/metrics`)).text();
    return Number(/^catchall_guard_connections_total\{result="accepted"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  const linesOf = (sid: string): Record<string, unknown>[] =>
    live.events.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['sid'] === sid);

  it('a probe leaves no info line (connect and close go to debug) and is still counted', async () => {
    const before = await connections();
    const closesBefore = live.events.of('close').length;
    const r = await probe(live.configPath, { CATCHALL_GUARD_DATA_DIR: live.dataDir });
    expect(r.code).toBe(0);
    await live.events.waitFor('close', () => live.events.of('close').length > closesBefore);
    const sid = live.events.of('close').at(-1)?.sid ?? '';
    expect(live.events.of('connect').find((e) => e.sid === sid)?.remoteAddress).toBe('127.0.0.1');
    // the captured logger writes info and above, as `serve` does by default
    expect(linesOf(sid)).toEqual([]);
    expect(await connections()).toBe(before + 1);
  });

  it('a client from loopback that sends mail is logged as always: connect, rcpt, message, close', async () => {
    const r = await sendVerbatim(live.port, {
      from: 'a@sender.example',
      to: ['alice@example.test'],
      raw: simpleMessage({ subject: 'hello' }),
    });
    expect(r.code).toBe(250);
    const sid = live.events.of('message').at(-1)?.sid ?? '';
    await live.events.waitFor('close', (e) => e.sid === sid);
    expect(linesOf(sid).map((l) => [l['level'], l['event']])).toEqual([
      [30, 'connect'],
      [30, 'rcpt'],
      [30, 'message'],
      [30, 'close'],
    ]);
  });
});
