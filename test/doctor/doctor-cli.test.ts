// `catchall-guard doctor` as the operator runs it: the built CLI, a config whose dns.servers names a
// real DNS server (dnsmasq) holding a good zone, a broken one, or a server that never answers.
import { generateKeyPairSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { txtRecord } from '../../src/doctor/records.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli } from '../helpers/cli.js';
import { startDnsmasq, type Dnsmasq, type DnsZone } from '../helpers/dnsmasq.js';
import { baseConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'der' },
});
const P = publicKey.toString('base64');
const DKIM = `v=DKIM1; k=rsa; p=${P}`;

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
beforeAll(async () => {
  await buildDist();
}, 180_000);

async function dns(zone: DnsZone): Promise<Dnsmasq> {
  const d = await startDnsmasq(zone);
  cleanup.push(() => d.stop());
  return d;
}

/** mx.owner.test serves the given domains; notices DKIM-signed with selector cg2026. */
function config(servers: string[], domains: string[], notices: RawConfig = {}, timeout = '2s'): string {
  const raw = {
    ...baseConfig({
      server: { hostname: 'mx.owner.test' },
      domains: domains.map((name) => ({ name, unknownRecipients: 'quarantine', recipients: ['alice'] })),
      notices: {
        enabled: true,
        requireSenderAuth: 'spf',
        dkim: { selector: 'cg2026', privateKey: 'dkim.key' },
        ...notices,
      },
    }),
    dns: { servers, timeout },
  };
  const { dir, configPath } = writeConfig(raw, { 'dkim.key': privateKey });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return configPath;
}

describe('doctor against dnsmasq', () => {
  it('a good zone: every check ✔, exit 0', async () => {
    const d = await dns({
      mx: {
        'owner.test': [{ exchange: 'mx.owner.test', priority: 10 }],
        'shop-owner.test': [{ exchange: 'mx.owner.test', priority: 10 }],
      },
      a: { 'mx.owner.test': ['192.0.2.10'] },
      aaaa: { 'mx.owner.test': ['2001:db8::10'] },
      ptr: { '192.0.2.10': ['mx.owner.test'], '2001:db8::10': ['mx.owner.test'] },
      txt: {
        'mx.owner.test': ['v=spf1 a -all'],
        'owner.test': ['v=spf1 mx -all'],
        'shop-owner.test': ['v=spf1 mx -all'],
        '_dmarc.owner.test': ['v=DMARC1; p=reject'],
        '_dmarc.shop-owner.test': ['v=DMARC1; p=quarantine'],
        'cg2026._domainkey.owner.test': [DKIM],
        'cg2026._domainkey.shop-owner.test': [DKIM],
      },
    });
    const r = await runCli(['doctor', '--config', config([d.server], ['owner.test', 'shop-owner.test'])]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([
      `doctor: mx.owner.test, through dns.servers ${d.server}`,
      '✔ MX of owner.test → mx.owner.test (10)',
      '✔ MX of shop-owner.test → mx.owner.test (10)',
      '✔ A/AAAA of mx.owner.test: 192.0.2.10, 2001:db8::10',
      '✔ reverse DNS of 192.0.2.10: mx.owner.test, forward-confirmed',
      '✔ reverse DNS of 2001:db8::10: mx.owner.test, forward-confirmed',
      '✔ SPF of mx.owner.test (HELO name of notices) allows 192.0.2.10, 2001:db8::10: v=spf1 a -all',
      '✔ SPF of owner.test (From: domain of notices) allows 192.0.2.10, 2001:db8::10: v=spf1 mx -all',
      '✔ DKIM cg2026._domainkey.owner.test: publishes the configured RSA key',
      '✔ DMARC of owner.test: v=DMARC1; p=reject (notices pass by SPF of mx.owner.test and DKIM)',
      '✔ SPF of shop-owner.test (From: domain of notices) allows 192.0.2.10, 2001:db8::10: v=spf1 mx -all',
      '✔ DKIM cg2026._domainkey.shop-owner.test: publishes the configured RSA key',
      // mx.owner.test is not of shop-owner.test's organisation: only the signature aligns
      '✔ DMARC of shop-owner.test: v=DMARC1; p=quarantine (notices pass by DKIM)',
      '✔ notices.requireSenderAuth: spf (forged senders get no notice)',
      'all 13 checks passed',
      '',
    ]);
    // every answer came from the configured server
    expect(d.log()).toContain('query[PTR] 10.2.0.192.in-addr.arpa from 127.0.0.1');
    expect(d.log()).toContain('query[TXT] cg2026._domainkey.shop-owner.test from 127.0.0.1');
  });

  it('a broken zone (no MX, SPF without the address, no PTR, no DKIM record): the ✘ lines with the records to publish, exit 1', async () => {
    const d = await dns({
      a: { 'mx.owner.test': ['192.0.2.10'] },
      txt: {
        'mx.owner.test': ['v=spf1 ip4:198.51.100.7 -all'],
        'owner.test': ['v=spf1 ip4:198.51.100.7 ~all'],
        '_dmarc.owner.test': ['v=DMARC1; p=none'],
      },
    });
    const r = await runCli(['doctor', '--config', config([d.server], ['owner.test'], { requireSenderAuth: 'none' })]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([
      `doctor: mx.owner.test, through dns.servers ${d.server}`,
      '✘ MX of owner.test: no MX record — publish:',
      '      owner.test. IN MX 10 mx.owner.test.',
      '✔ A/AAAA of mx.owner.test: 192.0.2.10',
      "✘ reverse DNS of 192.0.2.10: no PTR record (set by the address's owner) — publish:",
      '      10.2.0.192.in-addr.arpa. IN PTR mx.owner.test.',
      '✘ SPF of mx.owner.test (HELO name of notices) does not allow 192.0.2.10 (fail): v=spf1 ip4:198.51.100.7 -all — replace the SPF record with (merge: one v=spf1 record only):',
      '      mx.owner.test. IN TXT "v=spf1 a ip4:198.51.100.7 -all"',
      '✘ SPF of owner.test (From: domain of notices) does not allow 192.0.2.10 (softfail): v=spf1 ip4:198.51.100.7 ~all — replace the SPF record with (merge: one v=spf1 record only):',
      '      owner.test. IN TXT "v=spf1 a:mx.owner.test ip4:198.51.100.7 ~all"',
      '✘ DKIM cg2026._domainkey.owner.test: no record — publish:',
      `      ${txtRecord('cg2026._domainkey.owner.test', DKIM)}`,
      '✔ DMARC of owner.test: v=DMARC1; p=none (p=none: nothing is refused by it)',
      '✘ notices.requireSenderAuth: none (every forged sender gets a notice: backscatter) — set:',
      '      notices.requireSenderAuth: spf',
      '6 of 8 checks failed',
      '',
    ]);
    // the DKIM record to publish is the key's SubjectPublicKeyInfo, in 255-octet strings
    expect(txtRecord('cg2026._domainkey.owner.test', DKIM)).toBe(
      `cg2026._domainkey.owner.test. IN TXT "${DKIM.slice(0, 255)}" "${DKIM.slice(255)}"`,
    );
  });

  it('--ip: the given address is checked instead of the A record', async () => {
    const d = await dns({
      mx: { 'owner.test': [{ exchange: 'mx.owner.test', priority: 10 }] },
      a: { 'mx.owner.test': ['192.0.2.10'] },
      ptr: { '192.0.2.10': ['mx.owner.test'] },
      txt: {
        'mx.owner.test': ['v=spf1 a -all'],
        'owner.test': ['v=spf1 mx -all'],
        '_dmarc.owner.test': ['v=DMARC1; p=none'],
      },
    });
    const r = await runCli([
      'doctor',
      '--ip',
      '::ffff:203.0.113.5',
      '--config',
      config([d.server], ['owner.test'], { dkim: undefined }),
    ]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([
      `doctor: mx.owner.test, through dns.servers ${d.server}`,
      '✔ MX of owner.test → mx.owner.test (10)',
      '✘ A/AAAA of mx.owner.test: 192.0.2.10, not 203.0.113.5 (--ip) — publish:',
      '      mx.owner.test. IN A 203.0.113.5',
      "✘ reverse DNS of 203.0.113.5: no PTR record (set by the address's owner) — publish:",
      '      5.113.0.203.in-addr.arpa. IN PTR mx.owner.test.',
      '      mx.owner.test. IN A 203.0.113.5',
      '✘ SPF of mx.owner.test (HELO name of notices) does not allow 203.0.113.5 (fail): v=spf1 a -all — replace the SPF record with (merge: one v=spf1 record only):',
      '      mx.owner.test. IN TXT "v=spf1 ip4:203.0.113.5 a -all"',
      '✘ SPF of owner.test (From: domain of notices) does not allow 203.0.113.5 (fail): v=spf1 mx -all — replace the SPF record with (merge: one v=spf1 record only):',
      '      owner.test. IN TXT "v=spf1 ip4:203.0.113.5 mx -all"',
      '✔ DMARC of owner.test: v=DMARC1; p=none (p=none: nothing is refused by it)',
      '– DKIM: notices.dkim is not set (notices go out unsigned)',
      '✔ notices.requireSenderAuth: spf (forged senders get no notice)',
      '4 of 7 checks failed',
      '',
    ]);
  });

  it('a bad --ip is a usage error (exit 2)', async () => {
    const r = await runCli(['doctor', '--ip', 'mx.owner.test', '--config', config(['127.0.0.1:9'], ['owner.test'])]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe('catchall-guard: doctor: --ip "mx.owner.test" is not an IP address');
  });
});

describe('doctor when the DNS server does not answer', () => {
  let silent: Socket;
  beforeAll(async () => {
    silent = createSocket('udp4');
    silent.on('message', () => undefined);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  });
  afterAll(() => silent.close());

  it('every look-up is a ✘ (failed, not "missing"), exit 1', async () => {
    const server = `127.0.0.1:${silent.address().port}`;
    const r = await runCli(['doctor', '--config', config([server], ['owner.test'], {}, '300ms')]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([
      `doctor: mx.owner.test, through dns.servers ${server}`,
      '✘ MX of owner.test: look-up failed (ETIMEOUT) — publish:',
      '      owner.test. IN MX 10 mx.owner.test.',
      '✘ A/AAAA of mx.owner.test: A: look-up failed (ETIMEOUT), AAAA: look-up failed (ETIMEOUT) — publish:',
      '      mx.owner.test. IN A <the public IPv4 address of this server>',
      '✘ reverse DNS: no address to check (publish the A/AAAA record of the host name, or give --ip ADDRESS)',
      '✘ SPF of mx.owner.test (HELO name of notices): no address to check (publish the A/AAAA record of the host name, or give --ip ADDRESS) — publish:',
      '      mx.owner.test. IN TXT "v=spf1 a -all"',
      '✘ SPF of owner.test (From: domain of notices): no address to check (publish the A/AAAA record of the host name, or give --ip ADDRESS) — publish:',
      '      owner.test. IN TXT "v=spf1 a:mx.owner.test -all"',
      '✘ DKIM cg2026._domainkey.owner.test: look-up failed (ETIMEOUT) — publish:',
      `      ${txtRecord('cg2026._domainkey.owner.test', DKIM)}`,
      '✘ DMARC of owner.test: look-up failed (ETIMEOUT) — publish:',
      '      _dmarc.owner.test. IN TXT "v=DMARC1; p=none"',
      '✔ notices.requireSenderAuth: spf (forged senders get no notice)',
      '7 of 8 checks failed',
      '',
    ]);
  });
});
