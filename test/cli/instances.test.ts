// Instances sharing one data volume, as real processes (the built CLI): an instance that hangs leaves
// a spool file and a notice claim. A live instance's are never touched; once its lease has stopped
// changing for the dead period, another instance removes its spool directory and sends its notice at
// once (not after the 30-minute claim expiry). A second live process with the same instance id refuses to start.
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig } from '../helpers/start-app.js';
import { startSink } from '../helpers/upstream-sink.js';
import { until } from '../helpers/until.js';

beforeAll(() => buildDist());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A DNS server that never answers: a notice waiting on SPF holds its claim as long as the look-up lasts. */
async function silentDns(): Promise<number> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket.address().port;
}

interface Site {
  readonly dir: string;
  readonly dataDir: string;
  /** A config file of its own per instance: they share the data directory, not necessarily the settings. */
  config(name: string, notices: Record<string, unknown>, dnsTimeout: string): string;
}

function site(sinkPort: number, dnsPort: number): Site {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-instances-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    dataDir: path.join(dir, 'data'),
    config(name, notices, dnsTimeout) {
      const file = path.join(dir, `${name}.yaml`);
      const raw = baseConfig({
        domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
        notices: {
          enabled: true,
          format: 'plain',
          transport: { type: 'smtp', host: '127.0.0.1', port: sinkPort },
          ...notices,
        },
      });
      writeFileSync(file, stringify({ ...raw, dns: { servers: [`127.0.0.1:${dnsPort}`], timeout: dnsTimeout } }));
      return file;
    },
  };
}

/** Test only: renewals every 300 ms, so a silence of 1.8 s makes an instance gone. */
const SHORT_LEASE = { CATCHALL_GUARD_TEST_LEASE_RENEW_MS: '300' };

async function spawn(s: Site, configPath: string, id: string): Promise<ChildServer> {
  const child = await spawnServer(configPath, {
    CATCHALL_GUARD_DATA_DIR: s.dataDir,
    CATCHALL_GUARD_INSTANCE_ID: id,
    ...SHORT_LEASE,
  });
  cleanups.push(async () => {
    child.proc.kill('SIGKILL');
    await child.exited;
  });
  return child;
}

const qidOf = (reply: string): string => /queued as ([A-Za-z0-9_-]+)/.exec(reply)?.[1] ?? '';
const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

/**
 * On instance `id`: a quarantined message whose notice waits on the silent DNS under its claim, and a
 * large message stopped in the middle of DATA, in the spool. Resolves with the entry id and the claim's text.
 */
async function leaveClaimAndSpool(
  s: Site,
  server: ChildServer,
  id: string,
): Promise<{ qid: string; claim: string; client: RawSmtp }> {
  const sent = await sendMessage(server.port, {
    from: 's@client.test',
    to: ['typo@example.test'],
    raw: simpleMessage(),
  });
  expect(sent.code).toBe(250);
  const qid = qidOf(sent.response);
  const claimFile = path.join(s.dataDir, 'quarantine', `.${qid}.claim`);
  const claim = await until('the notice claim', () => existsSync(claimFile) && readFileSync(claimFile, 'utf8'));
  const { client } = await RawSmtp.connect(server.port);
  await client.begin('s@client.test');
  expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
  expect((await client.cmd('DATA')).code).toBe(354);
  // past the 64 KiB kept in memory: the message goes to a spool file
  client.write(`Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(2000));
  await until('the spool file', () => files(path.join(s.dataDir, 'spool', id)).length === 1);
  return { qid, claim, client };
}

describe('instances sharing a data volume (child processes)', () => {
  it('a live instance’s spool and notice claim stay its own; once its lease is silent, another removes the spool and sends the notice', async () => {
    const sink = await startSink('accept');
    cleanups.push(() => sink.close());
    const s = site(sink.port, await silentDns());
    // A needs SPF before a notice and asks a DNS server that never answers: it sits on the claim
    const a = await spawn(s, s.config('a', { requireSenderAuth: 'spf' }, '10m'), 'mx-a');
    const { qid, claim, client } = await leaveClaimAndSpool(s, a, 'mx-a');
    expect(claim).toMatch(/^mx-a [0-9a-f-]{36}$/);

    const b = await spawn(s, s.config('b', { requireSenderAuth: 'none' }, '1s'), 'mx-b');
    await b.waitForLine((l) => l['event'] === 'instance' && l['action'] === 'started');
    // B's outbox has looked at the entry (it is pending) and found A's claim: live, so left alone
    await new Promise((r) => setTimeout(r, 1500));
    expect(readFileSync(path.join(s.dataDir, 'quarantine', `.${qid}.claim`), 'utf8')).toBe(claim);
    expect(files(path.join(s.dataDir, 'spool', 'mx-a'))).toHaveLength(1);
    expect(sink.messages).toHaveLength(0);
    expect(b.lines.filter((l) => l['event'] === 'instance' && l['action'] === 'peer-gone')).toEqual([]);

    // A hangs (a paused container): its process exists, its lease stops changing, and B, watching it
    // unchanged for six renewal periods of its own clock, takes it for gone
    a.proc.kill('SIGSTOP');
    const gone = await b.waitForLine((l) => l['event'] === 'instance' && l['action'] === 'peer-gone', 20_000);
    expect(gone).toMatchObject({ id: 'mx-a', host: hostname(), pid: a.proc.pid, lease: 'expired', spoolFiles: 1 });
    a.proc.kill('SIGKILL');
    await a.exited;
    client.close();
    expect(existsSync(path.join(s.dataDir, 'spool', 'mx-a'))).toBe(false);
    const sent = await b.waitForLine((l) => l['event'] === 'notice' && l['qid'] === qid, 15_000);
    expect(sent).toMatchObject({ status: 'sent', to: 's@client.test' });
    const [notice] = await sink.waitForMessages(1);
    expect(notice?.to).toEqual(['s@client.test']);
    const entry = JSON.parse(readFileSync(path.join(s.dataDir, 'quarantine', `${qid}.json`), 'utf8')) as {
      notice: { status: string };
    };
    expect(entry.notice.status).toBe('sent');
  }, 90_000);

  it('a second live process with the same id refuses to start; after a crash, the same id restarts at once and takes its predecessor’s claim', async () => {
    const sink = await startSink('accept');
    cleanups.push(() => sink.close());
    const s = site(sink.port, await silentDns());
    const a = await spawn(s, s.config('a', { requireSenderAuth: 'spf' }, '10m'), 'mx-a');

    const twin = await spawnServer(s.config('twin', { requireSenderAuth: 'none' }, '1s'), {
      CATCHALL_GUARD_DATA_DIR: s.dataDir,
      CATCHALL_GUARD_INSTANCE_ID: 'mx-a',
    }).then(
      (c) => {
        c.proc.kill('SIGKILL');
        throw new Error('a second process with instance id mx-a started');
      },
      (err: unknown) => String(err),
    );
    expect(twin).toContain(
      `catchall-guard: instance id "mx-a" is in use by a live instance (pid ${a.proc.pid} on host ${hostname()}, lease renewed`,
    );
    expect(twin).toContain('give each instance sharing the data directory its own CATCHALL_GUARD_INSTANCE_ID');

    const { qid, claim, client } = await leaveClaimAndSpool(s, a, 'mx-a');
    expect(claim).toMatch(/^mx-a [0-9a-f-]{36}$/);
    a.proc.kill('SIGKILL');
    await a.exited;
    client.close();

    // the same id right after the crash: same host, its pid gone, so no waiting for the lease to go silent
    const started = Date.now();
    const again = await spawn(s, s.config('again', { requireSenderAuth: 'none' }, '1s'), 'mx-a');
    expect(Date.now() - started).toBeLessThan(10_000);
    // its own spool is emptied at start
    expect(files(path.join(s.dataDir, 'spool', 'mx-a'))).toEqual([]);
    const sent = await again.waitForLine((l) => l['event'] === 'notice' && l['qid'] === qid, 15_000);
    expect(sent).toMatchObject({ status: 'sent', to: 's@client.test' });
    expect(await sink.waitForMessages(1)).toHaveLength(1);
  }, 90_000);
});
