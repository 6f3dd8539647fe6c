// Where a notice for a sender domain goes in `direct` mode (RFC 5321 §5.1): its MX hosts by
// preference, or the domain itself when it has no MX (implicit MX); nowhere for a null MX (RFC 7505).
// Every lookup goes through the injected resolver.
import { BlockList, isIP } from 'node:net';
import { isDnsNoData, dnsErrorCode, type DnsResolver } from '../sender-auth/dns.js';

export interface MailHost {
  readonly name: string;
  readonly priority: number;
  readonly addresses: readonly string[];
}

export type MailHostLookup =
  | { readonly kind: 'hosts'; readonly hosts: readonly MailHost[] }
  | { readonly kind: 'null-mx' }
  | { readonly kind: 'no-such-domain' }
  | { readonly kind: 'no-mail-host' }
  | { readonly kind: 'temporary'; readonly detail: string };

const MAX_HOSTS = 10;

function isMxRecord(v: unknown): v is { exchange: string; priority: number } {
  return typeof v === 'object' && v !== null && typeof (v as { exchange?: unknown }).exchange === 'string' && typeof (v as { priority?: unknown }).priority === 'number';
}

function stringsOf(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Every address that is not globally routable (RFC 6890 special-purpose ranges): a sender domain must
 * not be able to point our notices at ourselves or at hosts inside our network (an internal mail
 * server may trust us and relay on).
 */
const NON_GLOBAL = (() => {
  const list = new BlockList();
  const v4: [string, number][] = [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
    ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ];
  for (const [net, bits] of v4) list.addSubnet(net, bits, 'ipv4');
  const v6: [string, number][] = [
    ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
  ];
  for (const [net, bits] of v6) list.addSubnet(net, bits, 'ipv6');
  return list;
})();

export function isUnroutableAddress(ip: string): boolean {
  const v = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v);
  if (mapped?.[1]) return NON_GLOBAL.check(mapped[1], 'ipv4');
  if (isIP(v) === 4) return NON_GLOBAL.check(v, 'ipv4');
  if (isIP(v) === 6) return NON_GLOBAL.check(v, 'ipv6');
  return true;
}

async function addressesOf(host: string, resolve: DnsResolver): Promise<{ addresses: string[]; temporary: string | null }> {
  if (isIP(host)) return { addresses: [host], temporary: null };
  const [a, aaaa] = await Promise.allSettled([resolve(host, 'A'), resolve(host, 'AAAA')]);
  const addresses = [...(a.status === 'fulfilled' ? stringsOf(a.value) : []), ...(aaaa.status === 'fulfilled' ? stringsOf(aaaa.value) : [])];
  const failures = [a, aaaa].flatMap((r) => (r.status === 'rejected' && !isDnsNoData(r.reason) ? [dnsErrorCode(r.reason)] : []));
  return { addresses, temporary: failures[0] ?? null };
}

export async function lookupMailHosts(domain: string, resolve: DnsResolver, opts: { readonly allowUnroutable?: boolean } = {}): Promise<MailHostLookup> {
  let records: { exchange: string; priority: number }[];
  try {
    records = (await resolve(domain, 'MX').then((v) => (Array.isArray(v) ? v : []))).filter(isMxRecord);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ENOTFOUND') return { kind: 'no-such-domain' };
    if (code !== 'ENODATA') return { kind: 'temporary', detail: `MX ${domain}: ${dnsErrorCode(err)}` };
    records = [];
  }
  const named = records.map((r) => ({ ...r, exchange: r.exchange.replace(/\.$/, '') }));
  if (named.length > 0 && named.every((r) => r.exchange === '')) return { kind: 'null-mx' };
  const candidates = named.length === 0 ? [{ exchange: domain, priority: 0 }] : named.filter((r) => r.exchange !== '');
  // stable sort: equal preferences keep the resolver's (already shuffled) order
  candidates.sort((x, y) => x.priority - y.priority);
  const hosts: MailHost[] = [];
  let temporary: string | null = null;
  for (const c of candidates.slice(0, MAX_HOSTS)) {
    const r = await addressesOf(c.exchange, resolve);
    temporary ??= r.temporary;
    // IPv4 first: many small hosts have AAAA records but no working IPv6 route
    const usable = r.addresses.filter((a) => opts.allowUnroutable === true || !isUnroutableAddress(a)).sort((p, q) => isIP(p) - isIP(q));
    if (usable.length > 0) hosts.push({ name: c.exchange, priority: c.priority, addresses: usable });
  }
  if (hosts.length > 0) return { kind: 'hosts', hosts };
  return temporary ? { kind: 'temporary', detail: `A/AAAA: ${temporary}` } : { kind: 'no-mail-host' };
}
