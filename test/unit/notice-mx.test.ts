// Direct-to-MX routing against a fake resolver: preference order, implicit MX, null MX, failures.
import { describe, expect, it } from 'vitest';
import { isUnroutableAddress, lookupMailHosts } from '../../src/notice/mx.js';
import type { DnsResolver } from '../../src/sender-auth/dns.js';

const dnsError = (code: string): Error => Object.assign(new Error(code), { code });

function fakeDns(zone: Record<string, unknown>): DnsResolver {
  return async (name, rrtype) => {
    const v = zone[`${name} ${rrtype}`];
    if (v instanceof Error) throw v;
    if (v === undefined)
      throw dnsError(Object.keys(zone).some((k) => k.startsWith(`${name} `)) ? 'ENODATA' : 'ENOTFOUND');
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
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': [{ exchange: '', priority: 0 }] }))).toEqual({
      kind: 'null-mx',
    });
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': [{ exchange: '.', priority: 0 }] }))).toEqual({
      kind: 'null-mx',
    });
  });

  it('NXDOMAIN → no-such-domain; SERVFAIL → temporary', async () => {
    expect(await lookupMailHosts('gone.test', fakeDns({}))).toEqual({ kind: 'no-such-domain' });
    expect(await lookupMailHosts('shop.test', fakeDns({ 'shop.test MX': dnsError('ESERVFAIL') }))).toEqual({
      kind: 'temporary',
      detail: 'MX shop.test: ESERVFAIL',
    });
  });

  it('MX hosts without addresses → no-mail-host, or temporary when a lookup failed', async () => {
    expect(
      await lookupMailHosts(
        'shop.test',
        fakeDns({ 'shop.test MX': [{ exchange: 'mx.shop.test', priority: 1 }], 'mx.shop.test TXT': [] }),
      ),
    ).toEqual({ kind: 'no-mail-host' });
    expect(
      await lookupMailHosts(
        'shop.test',
        fakeDns({
          'shop.test MX': [{ exchange: 'mx.shop.test', priority: 1 }],
          'mx.shop.test A': dnsError('ETIMEOUT'),
        }),
      ),
    ).toEqual({
      kind: 'temporary',
      detail: 'A/AAAA: ETIMEOUT',
    });
  });

  it('loopback and link-local MX addresses are refused unless allowed (tests)', async () => {
    const dns = fakeDns({
      'shop.test MX': [{ exchange: 'mx.shop.test', priority: 1 }],
      'mx.shop.test A': ['127.0.0.1'],
    });
    expect(await lookupMailHosts('shop.test', dns)).toEqual({ kind: 'no-mail-host' });
    expect(await lookupMailHosts('shop.test', dns, { allowUnroutable: true })).toEqual({
      kind: 'hosts',
      hosts: [{ name: 'mx.shop.test', priority: 1, addresses: ['127.0.0.1'] }],
    });
    expect(
      ['127.0.0.1', '0.0.0.0', '169.254.1.1', '::1', '::', 'fe80::1', '::ffff:127.0.0.1', 'not-an-ip'].every(
        isUnroutableAddress,
      ),
    ).toBe(true);
    // private, shared, documentation and multicast ranges, plain and IPv4-mapped: never a notice target
    expect(
      [
        '10.0.0.1',
        '172.16.5.5',
        '192.168.1.1',
        '100.64.0.1',
        '192.0.2.1',
        '224.0.0.1',
        'fd00::1',
        '2001:db8::1',
        '::ffff:10.0.0.1',
      ].every(isUnroutableAddress),
    ).toBe(true);
    expect(['93.184.216.34', '8.8.8.8', '2a00:1450:4001::1', '::ffff:8.8.8.8'].some(isUnroutableAddress)).toBe(false);
  });
});

// issue #9 item 8: IPv4 embedded in IPv6 (IPv4-compatible, NAT64, 6to4) and site-local addresses
// passed the filter, and connections to ::127.0.0.1 and 64:ff9b::7f00:1 were attempted
describe('isUnroutableAddress: embedded IPv4 and special IPv6 ranges', () => {
  it.each([
    // IPv4-compatible ::a.b.c.d (deprecated, RFC 4291 §2.5.5.1): refused whatever the IPv4 part
    ['::127.0.0.1', true],
    ['::7f00:1', true],
    ['0:0:0:0:0:0:127.0.0.1', true],
    ['::8.8.8.8', true],
    ['::808:808', true],
    // IPv4-mapped: the embedded IPv4 is judged
    ['::ffff:127.0.0.1', true],
    ['::FFFF:7f00:1', true],
    ['::ffff:10.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['::ffff:0:8.8.8.8', true], // RFC 6145 translated form: not global
    // NAT64 64:ff9b::/96: the embedded IPv4 is judged; the local-use 64:ff9b:1::/48 is refused
    ['64:ff9b::7f00:1', true],
    ['64:ff9b::127.0.0.1', true],
    ['64:ff9b::a9fe:a9fe', true], // 169.254.169.254, the cloud metadata service
    ['64:ff9b::c0a8:101', true],
    ['64:ff9b::808:808', false],
    ['64:ff9b:1::808:808', true],
    // 6to4 2002::/16: the IPv4 in bits 16-48 is judged
    ['2002:7f00:1::1', true],
    ['2002:a00:1::', true],
    ['2002:c0a8:101:1::25', true],
    ['2002:808:808::1', false],
    // site-local fec0::/10 (deprecated, RFC 3879), and the other special or unallocated IPv6 ranges
    ['fec0::1', true],
    ['feff:ffff::1', true],
    ['fe80::1%eth0', true],
    ['fd12:3456::1', true],
    ['ff02::1', true],
    ['2001::1', true], // Teredo
    ['2001:db8::25', true],
    ['100::1', true],
    ['3fff::1', true],
    ['4000::1', true],
    ['::', true],
    ['::1', true],
    // IPv4: only 'unicast'
    ['127.0.0.1', true],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['192.0.0.8', true],
    ['198.18.0.1', true],
    ['240.0.0.1', true],
    ['8.8.8.8', false],
    ['93.184.216.34', false],
    ['2a00:1450:4001::1', false],
    // not an address in standard notation
    ['127.1', true],
    ['0x7f000001', true],
    ['017700000001', true],
    ['', true],
  ] as const)('%s → unroutable: %s', (ip, expected) => {
    expect(isUnroutableAddress(ip)).toBe(expected);
  });

  it('a domain whose MX resolves only to embedded loopback addresses gets no connection attempt', async () => {
    const dns = fakeDns({
      'shop.test MX': [{ exchange: 'mx.shop.test', priority: 1 }],
      'mx.shop.test AAAA': ['::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1', 'fec0::25'],
    });
    expect(await lookupMailHosts('shop.test', dns)).toEqual({ kind: 'no-mail-host' });
  });
});
