// The resolver `dns.servers` / `dns.timeout` describe, asked of a real DNS server (dnsmasq) and of a
// server that never answers.
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConfiguredResolver,
  createFollowingResolver,
  parseDnsServer,
  type DnsSettings,
} from '../../src/sender-auth/dns.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';

describe('parseDnsServer', () => {
  it.each([
    ['127.0.0.1', { host: '127.0.0.1', port: 53 }],
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353 }],
    ['resolver.internal', { host: 'resolver.internal', port: 53 }],
    ['resolver.internal:1053', { host: 'resolver.internal', port: 1053 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['[2001:db8::53]', { host: '2001:db8::53', port: 53 }],
    ['2001:db8::53', { host: '2001:db8::53', port: 53 }],
  ])('%s → %j', (entry, expected) => {
    expect(parseDnsServer(entry)).toEqual(expected);
  });
});

describe('the configured resolver against dnsmasq', () => {
  let dns: Dnsmasq;
  let other: Dnsmasq;
  beforeAll(async () => {
    dns = await startDnsmasq({
      mx: { 'shop.test': [{ exchange: 'mx1.shop.test', priority: 10 }] },
      a: { 'mx1.shop.test': ['192.0.2.25'] },
      txt: { 'shop.test': ['v=spf1 ip4:192.0.2.25 -all'], 'long.test': ['x'.repeat(300)] },
    });
    other = await startDnsmasq({ txt: { 'shop.test': ['v=spf1 -all'] } });
  });
  afterAll(async () => {
    await dns.stop();
    await other.stop();
  });

  it('answers TXT and MX from dns.servers in the shapes node:dns gives', async () => {
    const resolve = createConfiguredResolver({ servers: [dns.server], timeout: 2000 });
    expect(await resolve('shop.test', 'TXT')).toEqual([['v=spf1 ip4:192.0.2.25 -all']]);
    expect(await resolve('shop.test', 'MX')).toEqual([{ exchange: 'mx1.shop.test', priority: 10 }]);
    expect(await resolve('mx1.shop.test', 'A')).toEqual(['192.0.2.25']);
    // a record longer than one character-string arrives in 255-octet pieces
    expect(await resolve('long.test', 'TXT')).toEqual([['x'.repeat(255), 'x'.repeat(45)]]);
  });

  it('a name not in the zone is ENOTFOUND, a type it lacks ENODATA', async () => {
    const resolve = createConfiguredResolver({ servers: [dns.server], timeout: 2000 });
    await expect(resolve('nowhere.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolve('shop.test', 'AAAA')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('a server given by name is looked up with the system resolver, then asked on its port', async () => {
    const resolve = createConfiguredResolver({ servers: [`localhost:${dns.port}`], timeout: 2000 });
    expect(await resolve('shop.test', 'MX')).toEqual([{ exchange: 'mx1.shop.test', priority: 10 }]);
  });

  it('a server name that cannot be looked up fails the query, and is looked up again on the next one', async () => {
    const resolve = createConfiguredResolver({ servers: ['no-such-resolver.invalid'], timeout: 2000 });
    await expect(resolve('shop.test', 'TXT')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(resolve('shop.test', 'TXT')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('the following resolver asks the servers the current settings name', async () => {
    let settings: DnsSettings = { servers: [dns.server], timeout: 2000 };
    const resolve = createFollowingResolver(() => settings);
    expect(await resolve('shop.test', 'TXT')).toEqual([['v=spf1 ip4:192.0.2.25 -all']]);
    settings = { servers: [other.server], timeout: 2000 };
    expect(await resolve('shop.test', 'TXT')).toEqual([['v=spf1 -all']]);
  });
});

describe('dns.timeout', () => {
  let silent: Socket;
  let port = 0;
  beforeAll(async () => {
    // a UDP socket that reads queries and never answers: a resolver that is down without saying so
    silent = createSocket('udp4');
    silent.on('message', () => undefined);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    port = silent.address().port;
  });
  afterAll(() => silent.close());

  it('bounds the whole look-up: ETIMEOUT after the timeout, not after tries × servers', async () => {
    const resolve = createConfiguredResolver({ servers: [`127.0.0.1:${port}`, `127.0.0.1:${port}`], timeout: 400 });
    const t0 = Date.now();
    await expect(resolve('shop.test', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1500);
  });
});
