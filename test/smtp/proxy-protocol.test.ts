// The PROXY protocol (server.proxyProtocol): behind a load balancer the client's address comes in a
// PROXY v1 header from a trusted peer and counts for the connect event, per-IP limits and Received:.
// Nobody else's header is read, so no client can claim another address.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { trustedEntryProblem, trustedPeers } from '../../src/address/trusted-proxies.js';
import { loadConfig } from '../../src/config/load.js';
import { createProxyFailureLog } from '../../src/gateway/proxy-failures.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { proxyFailure } from '../../src/smtp/wire-compat.js';
import { captureEvents } from '../helpers/log-capture.js';
import { listFilesRecursive } from '../helpers/files.js';
import { RawSmtp, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';

const GREETING = '220 mx.test.invalid ESMTP catchall-guard';
const header = (client: string, clientPort = 5555): string => `PROXY TCP4 ${client} 127.0.0.1 ${clientPort} 25\r\n`;

const running: TestApp[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop();
});
async function start(server: Record<string, unknown>): Promise<TestApp> {
  const t = await startApp({
    server,
    domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }],
  });
  running.push(t);
  return t;
}

/** Connects, sends the header before anything else, reads the greeting and the session's connect event. */
async function proxied(
  t: TestApp,
  client: string,
): Promise<{ client: RawSmtp; greeting: string; sid: string; remoteAddress: string }> {
  const before = new Set(t.events.of('connect').map((e) => e.sid));
  const { client: c } = await RawSmtp.connect(t.port, { waitGreeting: false });
  c.write(header(client));
  const greeting = (await c.read()).line;
  const e = await t.events.waitFor('connect', (x) => !before.has(x.sid));
  return { client: c, greeting, sid: e.sid, remoteAddress: e.remoteAddress };
}

describe('from a trusted peer', () => {
  it('the address in the PROXY header is the client: connect event and Received: header', async () => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.0/8'] } });
    const s = await proxied(t, '203.0.113.9');
    expect(s.greeting).toBe(GREETING);
    expect(s.remoteAddress).toBe('203.0.113.9');
    await s.client.begin('s@client.test');
    expect((await s.client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
    expect((await s.client.cmd('DATA')).code).toBe(354);
    s.client.write(`${simpleMessage()}\r\n.\r\n`);
    expect((await s.client.read()).code).toBe(250);
    s.client.close();
    const inbox = path.join(t.dataDir, 'mail/example.test/alice/new');
    const [file] = listFilesRecursive(inbox);
    const stored = readFileSync(path.join(inbox, file ?? ''), 'latin1');
    expect(stored).toMatch(/^Received: from client\.test \(\[203\.0\.113\.9\]\)\r\n/);
    expect(stored).not.toContain('127.0.0.1');
  });

  it('maxConnectionsPerIp counts the address in the header, not the proxy’s', async () => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.1'] }, maxConnectionsPerIp: 1 });
    const a = await proxied(t, '203.0.113.9');
    expect(a.greeting).toBe(GREETING);
    // the same client through the same proxy: over its limit
    const b = await proxied(t, '203.0.113.9');
    expect(b.greeting).toBe('421 4.7.0 too many connections from your address, try again later');
    expect(t.events.of('connect').find((e) => e.sid === b.sid)).toEqual({
      event: 'connect',
      sid: b.sid,
      remoteAddress: '203.0.113.9',
      refused: '421 4.7.0',
      reason: 'max-connections-per-ip',
    });
    // another client through the same proxy: its own limit
    const c = await proxied(t, '198.51.100.7');
    expect(c.greeting).toBe(GREETING);
    expect(c.remoteAddress).toBe('198.51.100.7');
    a.client.close();
    c.client.close();
  });

  it('a connection without the header gets no session: the first line is refused and the socket closed', async () => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.1'] } });
    const { client } = await RawSmtp.connect(t.port, { waitGreeting: false });
    client.write('EHLO client.test\r\n');
    expect((await client.read()).line).toBe('* BAD Invalid PROXY header');
    await client.closed;
    expect(t.events.of('connect')).toEqual([]);
  });

  it('PROXY UNKNOWN (a balancer’s health check) leaves the peer’s own address', async () => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.1'] } });
    const { client } = await RawSmtp.connect(t.port, { waitGreeting: false });
    client.write('PROXY UNKNOWN\r\n');
    expect((await client.read()).line).toBe(GREETING);
    expect((await t.events.waitFor('connect')).remoteAddress).toBe('127.0.0.1');
    client.close();
  });
});

describe('a trusted peer without a usable header (a misconfigured balancer) is logged and counted', () => {
  interface Line {
    readonly level: number;
    readonly event: string;
    readonly peer?: string;
    readonly reason?: string;
    readonly detail?: string;
  }
  const proxyLines = (t: TestApp): Line[] =>
    t.events.lines.map((l) => JSON.parse(l) as Line).filter((l) => l.event === 'proxy');
  /** The counter as the app's /metrics shows it: fed by the same events. */
  const counter = (t: TestApp): (() => Promise<number>) => {
    // subscribed for the app's life: it goes with the app's event sink
    const metrics = createMetrics(t.events.sink);
    return async () =>
      (await metrics.registry.getSingleMetric('catchall_guard_proxy_header_invalid_total')?.get())?.values[0]?.value ??
      -1;
  };
  const badLine = async (t: TestApp, line: string): Promise<void> => {
    const { client } = await RawSmtp.connect(t.port, { waitGreeting: false });
    client.write(line);
    expect((await client.read()).line).toBe('* BAD Invalid PROXY header');
    await client.closed;
  };

  it.each([
    ['no header: the client speaks first', 'EHLO client.test\r\n', 'the first line is not a PROXY header'],
    [
      'a host name for the client',
      'PROXY TCP4 client.example 127.0.0.1 5555 25\r\n',
      'the client address in the header is not an IP address',
    ],
    ['garbage past 1024 bytes', 'x'.repeat(1100), 'the header line is longer than 1024 bytes'],
  ] as const)('%s → * BAD, and a warn line naming the peer', async (_what, line, detail) => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.1'] } });
    await badLine(t, line);
    await t.events.waitFor('proxy');
    expect(proxyLines(t)).toEqual([
      expect.objectContaining({ level: 40, peer: '127.0.0.1', reason: 'proxy-header-invalid', detail }),
    ]);
  });

  it('once a minute per peer at warn; every one counted', async () => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.1'] } });
    const counted = counter(t);
    expect(await counted()).toBe(0);
    for (let i = 0; i < 3; i++) await badLine(t, 'EHLO client.test\r\n');
    await t.events.waitFor('proxy', (e) => e.repeat === true && t.events.of('proxy').length === 3);
    expect(proxyLines(t)).toHaveLength(1);
    expect(t.events.of('proxy').map((e) => e.repeat ?? false)).toEqual([false, true, true]);
    expect(await counted()).toBe(3);
  });

  it('a peer that sends nothing until server.socketTimeout: no session, and the warn line says so', async () => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.1'] }, socketTimeout: '1s' });
    const { client } = await RawSmtp.connect(t.port, { waitGreeting: false });
    await client.closed;
    const e = await t.events.waitFor('proxy');
    expect(e).toEqual({
      event: 'proxy',
      peer: '127.0.0.1',
      reason: 'proxy-header-invalid',
      detail: 'no header before server.socketTimeout',
    });
    expect(t.events.of('connect')).toEqual([]);
  });

  it('a peer that connects and closes at once (a TCP health check) is not reported', async () => {
    const t = await start({ proxyProtocol: { trusted: ['127.0.0.1'] } });
    const { client } = await RawSmtp.connect(t.port, { waitGreeting: false });
    client.close();
    await client.closed;
    // a header-less health check, then a good session: only the good one shows
    const c = await proxied(t, '203.0.113.9');
    c.client.close();
    expect(t.events.of('proxy')).toEqual([]);
  });
});

describe('proxyFailure: what is told of smtp-server’s PROXY errors', () => {
  it.each([
    ['Invalid PROXY header', 0, false, 'the first line is not a PROXY header'],
    ['Invalid PROXY source address', 0, false, 'the client address in the header is not an IP address'],
    ['PROXY header line too long', 0, false, 'the header line is longer than 1024 bytes'],
    ['Socket closed before PROXY header was received', 60_000, true, 'no header before server.socketTimeout'],
    [
      'Socket closed before PROXY header was received',
      30_000,
      false,
      'no header in 30 s before the peer closed the connection',
    ],
    [
      'Socket ended before PROXY header was received',
      5_000,
      false,
      'no header in 5 s before the peer closed the connection',
    ],
    ['Socket closed before PROXY header was received', 20, false, null],
    ['read ECONNRESET', 20, false, null],
  ] as const)('%s after %d ms (timed out: %s) → %s', (message, waited, timedOut, expected) => {
    expect(proxyFailure(message, waited, timedOut)).toBe(expected);
  });
});

describe('createProxyFailureLog: one warn line per peer a minute', () => {
  it('repeats within the minute are marked; the next line counts them; peers are separate', () => {
    const log = captureEvents();
    let t = 0;
    const report = createProxyFailureLog(log.sink, () => t);
    report('10.0.0.1', 'd');
    t = 1_000;
    report('10.0.0.1', 'd');
    report('10.0.0.2', 'd');
    t = 59_999;
    report('10.0.0.1', 'd');
    t = 60_000;
    report('10.0.0.1', 'd');
    expect(log.of('proxy').map((e) => [e.peer, e.repeat ?? false, e.repeated ?? 0])).toEqual([
      ['10.0.0.1', false, 0],
      ['10.0.0.1', true, 0],
      ['10.0.0.2', false, 0],
      ['10.0.0.1', true, 0],
      ['10.0.0.1', false, 2],
    ]);
    // the log: the two warn lines of 10.0.0.1 and the one of 10.0.0.2; the repeats at debug, below info
    expect(log.lines.map((l) => (JSON.parse(l) as { level: number }).level)).toEqual([40, 40, 40]);
  });
});

describe('from a peer not on the list', () => {
  it('the header is not read: the client is the socket’s peer, and the line is an unknown command', async () => {
    // trusts a proxy at another address only; this test connects from 127.0.0.1
    const t = await start({ proxyProtocol: { trusted: ['192.0.2.1', '::1'] } });
    const { client, greeting } = await RawSmtp.connect(t.port);
    expect(greeting?.line).toBe(GREETING);
    expect((await t.events.waitFor('connect')).remoteAddress).toBe('127.0.0.1');
    const r = await client.cmd(header('203.0.113.9').trimEnd());
    expect(r.code).toBe(500);
    await client.begin('s@client.test');
    expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    client.write(`${simpleMessage()}\r\n.\r\n`);
    expect((await client.read()).code).toBe(250);
    client.close();
    const inbox = path.join(t.dataDir, 'mail/example.test/alice/new');
    const [file] = listFilesRecursive(inbox);
    const stored = readFileSync(path.join(inbox, file ?? ''), 'latin1');
    expect(stored).toMatch(/^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n/);
    expect(stored).not.toContain('203.0.113.9');
  });

  it('without server.proxyProtocol nobody’s header is read', async () => {
    const t = await start({});
    const { client, greeting } = await RawSmtp.connect(t.port);
    expect(greeting?.line).toBe(GREETING);
    expect((await client.cmd(header('203.0.113.9').trimEnd())).code).toBe(500);
    expect((await t.events.waitFor('connect')).remoteAddress).toBe('127.0.0.1');
    client.close();
  });

  it('a reload that trusts the peer applies to the next connection', async () => {
    const t = await start({ proxyProtocol: { trusted: ['192.0.2.1'] } });
    const { configPath } = writeConfig(
      baseConfig({
        server: { proxyProtocol: { trusted: ['127.0.0.1'] } },
        domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }],
      }),
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: t.dataDir } });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(t.app.reload(r.config)).toEqual({ ok: true });
    const s = await proxied(t, '203.0.113.9');
    expect(s.greeting).toBe(GREETING);
    expect(s.remoteAddress).toBe('203.0.113.9');
    s.client.close();
  });
});

describe('server.proxyProtocol.trusted', () => {
  it.each([
    ['127.0.0.1', null],
    ['10.0.0.0/8', null],
    ['2001:db8::/32', null],
    ['::1', null],
    ['10.0.0.0/33', 'a prefix longer than the address'],
    ['2001:db8::/129', 'a prefix longer than the address'],
    ['10.0.0.0/', 'no prefix after the slash'],
    ['10.1', 'a shorthand ipaddr.js would take'],
    ['0x7f.1', 'a hex form'],
    ['mx.example', 'a host name'],
    ['', 'empty'],
  ] as const)('%j → %s', (entry, problem) => {
    expect(trustedEntryProblem(entry) === null).toBe(problem === null);
  });

  it.each([
    [['10.0.0.0/8'], '10.20.30.40', true],
    [['10.0.0.0/8'], '11.0.0.1', false],
    [['10.0.0.0/8'], '::ffff:10.1.2.3', true],
    [['127.0.0.1'], '127.0.0.1', true],
    [['127.0.0.1'], '127.0.0.2', false],
    [['::ffff:127.0.0.1'], '127.0.0.1', true],
    [['2001:db8::/32'], '2001:db8:1::5', true],
    [['2001:db8::/32'], '2001:db9::5', false],
    [['::1'], '127.0.0.1', false],
    [['10.0.0.0/8'], 'not-an-address', false],
    [['10.0.0.0/8', '192.0.2.0/24'], '192.0.2.200', true],
  ] as const)('trusted %j, peer %s → %s', (entries, peer, expected) => {
    expect(trustedPeers(entries)(peer)).toBe(expected);
  });

  it('a bad entry is named by its key path and stops the start', () => {
    const { configPath, dataDir } = writeConfig(
      baseConfig({ server: { proxyProtocol: { trusted: ['10.0.0.0/8', '10.0.0.0/40'] } } }),
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues).toEqual([
        {
          path: 'server.proxyProtocol.trusted[1]',
          message: '"10.0.0.0/40" is not an IP address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32',
        },
      ]);
  });
});
