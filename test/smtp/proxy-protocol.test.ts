// The PROXY protocol (server.proxyProtocol): behind a load balancer the client's address comes in a
// PROXY v1 header from a trusted peer and counts for the connect event, per-IP limits and Received:.
// Nobody else's header is read, so no client can claim another address.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { trustedEntryProblem, trustedPeers } from '../../src/address/trusted-proxies.js';
import { loadConfig } from '../../src/config/load.js';
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
