// Direct-to-MX routing against a fake resolver: preference order, implicit MX, null MX, failures.
import { describe, expect, it } from 'vitest';
import { isUnroutableAddress, lookupMailHosts } from '../../src/notice/mx.js';
import type { DnsResolver } from '../../src/sender-auth/dns.js';

const dnsError = (code: string): Error => Object.assign(new Error(code), { code });

function fakeDns(zone: Record<string, unknown>): DnsResolver {
  return async (name, rrtype) => {
    const v = zone[`${name} ${rrtype}`];
    if (v instanceof Error) throw v;
    if (v === undefined) throw dnsError(Object.keys(zone).some((k) => k.startsWith(`${name} `)) ? 'ENODATA' : 'ENOTFOUND');
    return v;
  };
}

describe('lookupMailHosts', () => {
  it('MX hosts by preference, IPv4 before IPv6', async () => {
    const r = await lookupMailHosts(
      'shop.test',
      fakeDns({
        'shop.test MX': [
          { exchange: 'mx2.shop.test', priority: 20 },
          { exchange: 'mx1.shop.test.', priority: 10 },
        ],
        'mx1.shop.test A': ['93.184.216.1'],
        'mx1.shop.test AAAA': ['2a00:1450::1'],
        'mx2.shop.test A': ['93.184.216.2'],
      }),
    );
    expect(r).toEqual({
      kind: 'hosts',
      hosts: [
        { name: 'mx1.shop.test', priority: 10, addresses: ['93.184.216.1', '2a00:1450::1'] },
        { name: 'mx2.shop.test', priority: 20, addresses: ['93.184.216.2'] },
      ],
    });
  });

  it('no MX record → the domain itself (implicit MX, RFC 5321 §5.1)', async () => {
    const r = await lookupMailHosts('shop.test', fakeDns({ 'shop.test A': ['93.184.216.9'] }));
    expect(r).toEqual({ kind: 'hosts', hosts: [{ name: 'shop.test', priority: 0, addresses: ['93.184.216.9'] }] });
  });

  it('null MX (RFC 7505) → null-mx', async () => {
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': [{ exchange: '', priority: 0 }] }))).toEqual({ kind: 'null-mx' });
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': [{ exchange: '.', priority: 0 }] }))).toEqual({ kind: 'null-mx' });
  });

  it('NXDOMAIN → no-such-domain; SERVFAIL → temporary', async () => {
    expect(await lookupMailHosts('gone.test', fakeDns({}))).toEqual({ kind: 'no-such-domain' });
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': dnsError('ESERVFAIL') }))).toMatchObject({ kind: 'temporary' });
  });

  it('MX hosts without addresses → no-mail-host, or temporary when a lookup failed', async () => {
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': [{ exchange: 'mx.shop.test', priority: 1 }], 'mx.shop.test TXT': [] }))).toEqual({ kind: 'no-mail-host' });
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': [{ exchange: 'mx.shop.test', priority: 1 }], 'mx.shop.test A': dnsError('ETIMEOUT') }))).toMatchObject({
      kind: 'temporary',
    });
  });

  it('loopback and link-local MX addresses are refused unless allowed (tests)', async () => {
    const dns = fakeDns({ 'shop.test MX': [{ exchange: 'mx.shop.test', priority: 1 }], 'mx.shop.test A': ['127.0.0.1'] });
    expect(await lookupMailHosts('shop.test', dns)).toEqual({ kind: 'no-mail-host' });
    expect(await lookupMailHosts('shop.test', dns, { allowUnroutable: true })).toMatchObject({ kind: 'hosts' });
    expect(['127.0.0.1', '0.0.0.0', '169.254.1.1', '::1', '::', 'fe80::1', '::ffff:127.0.0.1', 'not-an-ip'].every(isUnroutableAddress)).toBe(true);
    // private, shared, documentation and multicast ranges, plain and IPv4-mapped: never a notice target
    expect(['10.0.0.1', '172.16.5.5', '192.168.1.1', '100.64.0.1', '192.0.2.1', '224.0.0.1', 'fd00::1', '2001:db8::1', '::ffff:10.0.0.1'].every(isUnroutableAddress)).toBe(true);
    expect(['93.184.216.34', '8.8.8.8', '2a00:1450:4001::1', '::ffff:8.8.8.8'].some(isUnroutableAddress)).toBe(false);
  });
});
