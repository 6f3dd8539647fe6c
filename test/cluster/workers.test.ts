// `server.workers: 2` as the operator runs it: the built CLI, a primary and two SMTP worker processes on
// one ephemeral port. Which worker served a session is read from its log lines (`worker: 1|2`); every
// session names its own envelope sender, so its `rcpt` line tells. The per-IP limits count once for
// the host, SIGHUP and SIGTERM reach both workers, a worker killed with SIGKILL loses no message that
// got 250 and is replaced, and /readyz and /metrics come from the primary.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { buildDist } from '../helpers/build-dist.js';
import { MAIN, type ChildServer } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';
import { startRedis } from '../helpers/redis.js';
import { startSink } from '../helpers/upstream-sink.js';
import { until } from '../helpers/until.js';
import { startCluster, workerOf } from '../helpers/cluster-server.js';

beforeAll(() => buildDist(), 180_000);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function twoWorkers(server: Record<string, unknown> = {}, rest: RawConfig = {}): RawConfig {
  return baseConfig({ ...rest, server: { workers: 2, ...server } });
}

async function session(
  port: number,
  from: string,
): Promise<{ client: RawSmtp; rcpt: (to: string) => Promise<number> }> {
  const { client, greeting } = await RawSmtp.connect(port);
  expect(greeting?.code).toBe(220);
  cleanups.push(() => client.close());
  await client.begin(from);
  return { client, rcpt: async (to) => (await client.cmd(`RCPT TO:<${to}>`)).code };
}

function startedWorkers(s: ChildServer): Array<{ id: number; pid: number; replaces?: number }> {
  return s.lines
    .filter((l) => l['event'] === 'worker' && l['action'] === 'started')
    .map((l) => ({
      id: Number(l['id']),
      pid: Number(l['pid']),
      ...(l['replaces'] !== undefined ? { replaces: Number(l['replaces']) } : {}),
    }));
}

describe('server.workers: 2', () => {
  it('counts maxConnectionsPerIp once for the host: sessions on both workers, the one over the limit refused', async () => {
    const { server } = await startCluster(twoWorkers({ maxConnectionsPerIp: 4 }), cleanups);
    expect(
      startedWorkers(server)
        .map((w) => w.id)
        .sort(),
    ).toEqual([1, 2]);
    const open = [];
    for (let i = 1; i <= 4; i++) {
      const s = await session(server.port, `conn${i}@client.test`);
      expect(await s.rcpt('alice@example.test')).toBe(250);
      open.push(s);
    }
    const served = await Promise.all([1, 2, 3, 4].map((i) => workerOf(server, `conn${i}@client.test`)));
    expect(new Set(served)).toEqual(new Set([1, 2]));
    // the fifth, whichever worker takes it, sees the four open on both
    const { client, greeting } = await RawSmtp.connect(server.port);
    cleanups.push(() => client.close());
    expect(greeting?.code).toBe(421);
    const refused = await server.waitForLine((l) => l['event'] === 'connect' && l['refused'] !== undefined);
    expect(refused['reason']).toBe('max-connections-per-ip');
    // a session that ends gives its place back, whichever worker it was on
    open[0]!.client.close();
    await server.waitForLine((l) => l['event'] === 'close' && l['worker'] === served[0]);
    let greeted = 0;
    for (let tries = 0; tries < 50 && greeted !== 220; tries++) {
      const r = await RawSmtp.connect(server.port);
      r.client.close();
      greeted = r.greeting?.code ?? 0;
      if (greeted !== 220) await new Promise((res) => setTimeout(res, 100));
    }
    expect(greeted).toBe(220);
  }, 60_000);

  it('counts maxUnknownRecipientsPerIp once for the host across sessions on both workers', async () => {
    const { server } = await startCluster(
      twoWorkers({ maxUnknownRecipientsPerIp: 4, maxUnknownRecipients: 10 }),
      cleanups,
    );
    const workers: number[] = [];
    for (let i = 1; i <= 4; i++) {
      const from = `harvest${i}@client.test`;
      const s = await session(server.port, from);
      expect(await s.rcpt(`nobody${i}@example.test`)).toBe(550);
      workers.push(await workerOf(server, from));
      s.client.close();
    }
    expect(new Set(workers)).toEqual(new Set([1, 2]));
    // four unknown-recipient answers to this IP in the hour, from either worker: the budget is spent for
    // the host, so the next connection is turned away at once, whichever worker takes it
    for (let i = 0; i < 2; i++) {
      const { client, greeting } = await RawSmtp.connect(server.port);
      client.close();
      expect(greeting?.code).toBe(421);
    }
    await until(
      'both refusals logged',
      () =>
        server.lines.filter((l) => l['event'] === 'connect' && l['reason'] === 'max-unknown-recipients-per-ip')
          .length === 2,
    );
  }, 60_000);

  it('SIGHUP reloads both workers: a recipient added to the file is known on each', async () => {
    const raw = twoWorkers();
    const { server, configPath } = await startCluster(raw, cleanups);
    const senders = (tag: string): string[] => [1, 2, 3, 4].map((i) => `${tag}${i}@client.test`);
    for (const from of senders('before')) {
      const s = await session(server.port, from);
      expect(await s.rcpt('carol@example.test')).toBe(550);
      s.client.close();
    }
    writeFileSync(
      configPath,
      stringify({
        ...raw,
        domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'carol'] }],
      }),
    );
    server.proc.kill('SIGHUP');
    for (const id of [0, 1, 2])
      await server.waitForLine((l) => l['event'] === 'reload' && l['ok'] === true && l['worker'] === id);
    const after: number[] = [];
    for (const from of senders('after')) {
      const s = await session(server.port, from);
      expect(await s.rcpt('carol@example.test')).toBe(250);
      after.push(await workerOf(server, from));
      s.client.close();
    }
    expect(new Set(after)).toEqual(new Set([1, 2]));
  }, 60_000);

  it('a refused SIGHUP (invalid file) is logged what: config by the primary, which tells no worker, and mail goes on', async () => {
    const raw = twoWorkers();
    const { server, configPath } = await startCluster(raw, cleanups);
    writeFileSync(
      configPath,
      stringify({ ...raw, domains: [{ name: 'example.test', unknownRecipients: 'bounce', recipients: ['alice'] }] }),
    );
    server.proc.kill('SIGHUP');
    await server.waitForLine(
      (l) => l['event'] === 'reload' && l['ok'] === false && l['worker'] === 0 && l['what'] === 'config',
    );
    const s = await session(server.port, 'still@client.test');
    expect(await s.rcpt('alice@example.test')).toBe(250);
    s.client.close();
  }, 60_000);

  it('SIGTERM drains both workers: a transaction in DATA on each completes with 250, exit 0', async () => {
    const { server, dataDir } = await startCluster(twoWorkers(), cleanups);
    const inData = [];
    for (let i = 1; i <= 2; i++) {
      const from = `drain${i}@client.test`;
      const s = await session(server.port, from);
      expect(await s.rcpt('alice@example.test')).toBe(250);
      expect((await s.client.cmd('DATA')).code).toBe(354);
      s.client.write(`Subject: drain ${i}\r\nMessage-ID: <drain${i}@client.test>\r\n\r\nfirst half\r\n`);
      inData.push({ ...s, from });
    }
    expect(new Set(await Promise.all(inData.map((s) => workerOf(server, s.from))))).toEqual(new Set([1, 2]));
    server.proc.kill('SIGTERM');
    await until('both workers draining', () =>
      [1, 2].every((id) =>
        server.lines.some((l) => l['event'] === 'shutdown' && l['phase'] === 'draining' && l['worker'] === id),
      ),
    );
    // new sessions are no longer taken: the listeners are closed or answer 421
    for (const s of inData) s.client.write('second half\r\n.\r\n');
    const finals = await Promise.all(inData.map((s) => s.client.read(20_000)));
    expect(finals.map((r) => r.code)).toEqual([250, 250]);
    const { code, signal } = await server.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const stopped = server.lines.filter((l) => l['event'] === 'worker' && l['action'] === 'stopped');
    expect(stopped.map((l) => [l['id'], l['code']]).sort()).toEqual([
      [1, 0],
      [2, 0],
    ]);
    expect(server.lines.at(-1)).toMatchObject({ event: 'shutdown', phase: 'done', worker: 0 });
    const delivered = readdirSync(path.join(dataDir, 'mail', 'example.test', 'alice', 'new'));
    expect(delivered).toHaveLength(2);
  }, 60_000);

  it('a worker killed with SIGKILL mid-session loses no message that got 250, and the primary replaces it', async () => {
    const { server, dataDir } = await startCluster(
      twoWorkers({}, { http: { listen: { host: '127.0.0.1', port: 0 } } }),
      cleanups,
    );
    const victim = startedWorkers(server).find((w) => w.id === 1)!;
    const accepted: string[] = [];
    let refusedOrCut = 0;
    let n = 0;
    let running = true;
    const sender = async (): Promise<void> => {
      while (running) {
        const id = `m${++n}@client.test`;
        const r = await sendMessage(server.port, {
          from: 'load@client.test',
          to: ['alice@example.test'],
          raw: simpleMessage({ messageId: `<${id}>`, body: 'x'.repeat(2000) }),
        });
        if (r.code === 250) accepted.push(id);
        else refusedOrCut++;
      }
    };
    const senders = [sender(), sender(), sender(), sender()];
    await until('messages flowing', () => accepted.length >= 8);
    process.kill(victim.pid, 'SIGKILL');
    const exited = await server.waitForLine(
      (l) => l['event'] === 'worker' && l['action'] === 'exited' && l['pid'] === victim.pid,
    );
    expect(exited).toMatchObject({ id: 1, signal: 'SIGKILL', level: 'error', worker: 0 });
    const replacement = await server.waitForLine(
      (l) => l['event'] === 'worker' && l['action'] === 'started' && l['replaces'] === victim.pid,
    );
    expect(replacement['id']).toBe(1);
    const before = accepted.length;
    await until('messages after the replacement', () => accepted.length >= before + 8, 20_000);
    running = false;
    await Promise.all(senders);
    // the port kept answering: and the replacement serves sessions too
    const replacedPid = Number(replacement['pid']);
    expect(replacedPid).not.toBe(victim.pid);
    const served = server.lines.filter((l) => l['event'] === 'message' && l['worker'] === 1);
    expect(served.length).toBeGreaterThan(0);
    // every 250 has its file
    const dir = path.join(dataDir, 'mail', 'example.test', 'alice', 'new');
    const ids = new Set(
      readdirSync(dir).map((f) => /^Message-ID: <([^>]+)>/m.exec(readFileSync(path.join(dir, f), 'latin1'))?.[1]),
    );
    const missing = accepted.filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
    expect(accepted.length).toBeGreaterThan(16);
    // the only failures are the sessions the killed worker held (a cut connection, never a lie)
    expect(refusedOrCut).toBeLessThanOrEqual(4);
    const httpPort = Number(server.lines.find((l) => l['event'] === 'listening' && l['proto'] === 'http')?.['port']);
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
  }, 90_000);

  it('/readyz, /metrics and probe answer from the primary: ready with every worker listening, counters summed over the workers', async () => {
    const { server, configPath, dataDir } = await startCluster(
      twoWorkers({}, { http: { listen: { host: '127.0.0.1', port: 0 } } }),
      cleanups,
    );
    const httpPort = Number(
      (await server.waitForLine((l) => l['event'] === 'listening' && l['proto'] === 'http'))['port'],
    );
    const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);
    const served: number[] = [];
    for (let i = 1; i <= 4; i++) {
      const from = `metrics${i}@client.test`;
      const s = await session(server.port, from);
      expect(await s.rcpt(`nobody${i}@example.test`)).toBe(550);
      served.push(await workerOf(server, from));
      s.client.close();
    }
    expect(new Set(served)).toEqual(new Set([1, 2]));
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(text).toMatch(/^catchall_guard_rcpt_total\{decision="reject"\} 4$/m);
    expect(text).toMatch(/^catchall_guard_connections_total\{result="accepted"\} 4$/m);
    // the runtime file is the primary's: probe finds the port the workers serve (the config says 0)
    const probe = await runCli(['probe', '--config', configPath], { env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect([probe.code, probe.stderr]).toEqual([0, '']);
    // once draining, not ready
    server.proc.kill('SIGTERM');
    await server.waitForLine((l) => l['event'] === 'shutdown' && l['phase'] === 'draining' && l['worker'] === 0);
    const draining = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (r) => r.status,
      () => 'closed',
    );
    expect([503, 'closed']).toContain(draining);
    expect((await server.exited).code).toBe(0);
  }, 60_000);

  it('a quarantine entry a worker writes gets its notice from the primary at once (kick over IPC, not the hourly rescan)', async () => {
    const sink = await startSink('accept');
    cleanups.push(() => sink.close());
    const { server } = await startCluster(
      twoWorkers(
        {},
        {
          domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
          notices: {
            enabled: true,
            format: 'plain',
            requireSenderAuth: 'none',
            transport: { type: 'smtp', host: '127.0.0.1', port: sink.port },
          },
        },
      ),
      cleanups,
    );
    const qids: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const r = await sendMessage(server.port, {
        from: `sender${i}@client.test`,
        to: [`gone${i}@example.test`],
        raw: simpleMessage({ subject: `to a gone address ${i}` }),
      });
      expect(r.code).toBe(250);
      qids.push(/queued as (\S+)/.exec(r.response)![1]!);
    }
    const stored = await Promise.all(
      qids.map((qid) => server.waitForLine((l) => l['event'] === 'message' && l['qid'] === qid)),
    );
    expect(new Set(stored.map((l) => l['worker']))).toEqual(new Set([1, 2]));
    const notices = await Promise.all(
      qids.map((qid) => server.waitForLine((l) => l['event'] === 'notice' && l['qid'] === qid, 15_000)),
    );
    // sent by the one outbox, the primary's: one notice per entry, none twice
    expect(notices.map((l) => [l['status'], l['worker']])).toEqual(qids.map(() => ['sent', 0]));
    const received = await sink.waitForMessages(4);
    expect(received.map((m) => m.to[0]).sort()).toEqual([1, 2, 3, 4].map((i) => `sender${i}@client.test`));
  }, 60_000);

  it("log.file: the primary writes every process's lines to the rotated file, each line whole", async () => {
    const { dir, configPath, dataDir } = writeConfig({
      ...twoWorkers({ maxConnectionsPerIp: 100 }),
      log: { level: 'info', file: { path: 'log/guard.log', maxSize: '16KB', keep: 50 } },
    });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const proc = spawn(process.execPath, [MAIN, 'serve', '--config', configPath], {
      env: { ...process.env, CATCHALL_GUARD_DATA_DIR: dataDir, NODE_CLUSTER_SCHED_POLICY: 'rr' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    });
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const logDir = path.join(dataDir, 'log');
    const lines = (): Array<Record<string, unknown>> =>
      readdirSync(logDir)
        .filter((f) => f.endsWith('.log'))
        .flatMap((f) => readFileSync(path.join(logDir, f), 'utf8').split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const listening = await until('the listening line in the file', () => {
      try {
        return lines().find((l) => l['event'] === 'listening' && l['proto'] === 'smtp');
      } catch {
        return undefined;
      }
    });
    const port = Number(listening['port']);
    // a burst from both workers at once: 40 sessions of three lines each, over several files
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const { client } = await RawSmtp.connect(port);
        await client.begin(`burst${i}@client.test`);
        await client.cmd(`RCPT TO:<nobody${i}-${'x'.repeat(200)}@example.test>`);
        await client.cmd('QUIT');
        client.close();
      }),
    );
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const all = lines(); // JSON.parse of every line: none is cut or interleaved
    const rcpts = all.filter((l) => l['event'] === 'rcpt');
    expect(rcpts).toHaveLength(40);
    expect(new Set(rcpts.map((l) => l['worker']))).toEqual(new Set([1, 2]));
    expect(all.filter((l) => l['event'] === 'worker' && l['action'] === 'stopped')).toHaveLength(2);
    expect(stdout).toBe('');
    // rotated, by the primary alone, while both workers wrote
    expect(readdirSync(logDir).filter((f) => f.endsWith('.log')).length).toBeGreaterThan(1);
  }, 60_000);

  it('the storage check of the primary reaches both workers: MAIL FROM refused on each while the quarantine cannot be written, /readyz 503, then both take mail again', async () => {
    const { server, dataDir } = await startCluster(
      twoWorkers({}, { http: { listen: { host: '127.0.0.1', port: 0 } } }),
      cleanups,
    );
    const httpPort = Number(
      (await server.waitForLine((l) => l['event'] === 'listening' && l['proto'] === 'http'))['port'],
    );
    const quarantineDir = path.join(dataDir, 'quarantine');
    // the quarantine directory becomes a file: nothing can be stored there
    rmSync(quarantineDir, { recursive: true, force: true });
    writeFileSync(quarantineDir, 'not a directory\n');
    const failed = await server.waitForLine((l) => l['event'] === 'storage' && l['ok'] === false, 20_000);
    expect(failed).toMatchObject({ worker: 0, problem: 'not-a-directory', reason: 'storage-not-writable' });
    const mailCodes = async (tag: string): Promise<Map<number, number>> => {
      const byWorker = new Map<number, number>();
      for (let i = 1; i <= 4; i++) {
        const { client, greeting } = await RawSmtp.connect(server.port);
        expect(greeting?.code).toBe(220);
        await client.cmd('EHLO client.test');
        const from = `${tag}${i}@client.test`;
        const code = (await client.cmd(`MAIL FROM:<${from}>`)).code;
        if (code === 250) expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
        client.close();
        const l = await server.waitForLine(
          (x) => (x['event'] === 'mail' || x['event'] === 'rcpt') && x['from'] === from,
        );
        byWorker.set(Number(l['worker']), code);
      }
      return byWorker;
    };
    // the verdict is the primary's; the workers refuse on it, both of them
    await new Promise((r) => setTimeout(r, 200)); // the verdict crosses IPC a moment after the event
    expect(await mailCodes('during')).toEqual(
      new Map([
        [1, 451],
        [2, 451],
      ]),
    );
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(503);
    rmSync(quarantineDir, { force: true });
    mkdirSync(quarantineDir);
    await server.waitForLine((l) => l['event'] === 'storage' && l['ok'] === true, 20_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(await mailCodes('after')).toEqual(
      new Map([
        [1, 250],
        [2, 250],
      ]),
    );
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
  }, 90_000);

  it('state.type redis: each worker counts in Redis itself, so the harvest budget is one for both', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const { server } = await startCluster(
      {
        ...twoWorkers({ maxUnknownRecipientsPerIp: 3, maxUnknownRecipients: 10 }),
        state: { type: 'redis', url: redis.url, prefix: 'cg-cluster:', timeout: '500ms' },
      },
      cleanups,
    );
    const workers: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const from = `redis${i}@client.test`;
      const s = await session(server.port, from);
      expect(await s.rcpt(`nobody${i}@example.test`)).toBe(550);
      workers.push(await workerOf(server, from));
      s.client.close();
    }
    expect(new Set(workers)).toEqual(new Set([1, 2]));
    for (let i = 0; i < 2; i++) {
      const { client, greeting } = await RawSmtp.connect(server.port);
      client.close();
      expect(greeting?.code).toBe(421);
    }
    // no IPC store in between: no state event of the primary kind
    expect(server.lines.filter((l) => l['event'] === 'state')).toEqual([]);
  }, 60_000);

  it('a worker that cannot start is retried at doubling intervals, and replaced once it can', async () => {
    const raw = twoWorkers();
    const { server, configPath } = await startCluster(raw, cleanups);
    const victim = startedWorkers(server).find((w) => w.id === 2)!;
    // a replacement reads the file as it is now: make it one no worker can run
    writeFileSync(configPath, stringify({ ...raw, server: { ...(raw['server'] as object), maxRecipients: 'many' } }));
    process.kill(victim.pid, 'SIGKILL');
    const exits = (): Array<Record<string, unknown>> =>
      server.lines.filter((l) => l['event'] === 'worker' && l['action'] === 'exited' && l['id'] === 2);
    await until('three exits of worker 2', () => exits().length >= 3, 20_000);
    expect(exits().map((l) => [l['code'], l['signal'], l['restartInMs']])).toEqual([
      [null, 'SIGKILL', 0],
      [2, null, 1_000],
      [2, null, 2_000],
    ]);
    expect(server.stderr()).toContain('server.maxRecipients');
    writeFileSync(configPath, stringify(raw));
    const back = await server.waitForLine(
      (l) => l['event'] === 'worker' && l['action'] === 'started' && l['id'] === 2 && l['replaces'] !== undefined,
      20_000,
    );
    expect(back['pid']).not.toBe(victim.pid);
    expect(server.proc.exitCode).toBeNull();
  }, 60_000);

  it('a port in use: the primary says so once (listen-address-in-use, exit 1) and leaves no worker behind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as net.AddressInfo).port;
    const { dir, configPath, dataDir } = writeConfig(twoWorkers({ listen: { host: '127.0.0.1', port } }));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await runCli(['serve', '--config', configPath], { env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect(r.code).toBe(1);
    expect(
      r.stderr.match(/^catchall-guard: cannot listen on 127\.0\.0\.1:\d+ \(server\.listen\): bind EADDRINUSE/gm) ?? [],
    ).toHaveLength(1);
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l['event'] === 'error')).toEqual([
      expect.objectContaining({ where: 'listen', reason: 'listen-address-in-use', worker: 0 }),
    ]);
    const stopped = lines.filter((l) => l['event'] === 'worker' && l['action'] === 'stopped');
    expect(stopped).toHaveLength(2);
  }, 60_000);

  it('workers: auto forks one worker per CPU (os.availableParallelism); the kernel spreads a burst over them', async () => {
    const { server } = await startCluster(
      baseConfig({ server: { workers: 'auto', maxConnectionsPerIp: 100 } }),
      cleanups,
      {
        kernel: true,
      },
    );
    const listening = await server.waitForLine((l) => l['event'] === 'listening' && l['proto'] === 'smtp');
    const cpus = availableParallelism();
    if (cpus === 1) {
      // one CPU: one process, no cluster, as with workers: 1
      expect(listening['worker']).toBeUndefined();
      return;
    }
    expect(listening).toMatchObject({ workers: cpus, worker: 0 });
    expect(startedWorkers(server)).toHaveLength(cpus);
    // 30 sessions at once, each to the end of a RCPT: every one answered, by the workers
    const codes = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const s = await session(server.port, `burst${i}@client.test`);
        const code = await s.rcpt('alice@example.test');
        s.client.close();
        return code;
      }),
    );
    expect(codes).toEqual(codes.map(() => 250));
    const served = await Promise.all(codes.map((_, i) => workerOf(server, `burst${i}@client.test`)));
    for (const w of served) expect(w).toBeGreaterThanOrEqual(1);
    for (const w of served) expect(w).toBeLessThanOrEqual(cpus);
    server.proc.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 60_000);
});
