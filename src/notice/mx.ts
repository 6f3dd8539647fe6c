// Where a notice for a sender domain goes in `direct` mode (RFC 5321 §5.1): its MX hosts by
// preference, or the domain itself when it has no MX (implicit MX); nowhere for a null MX (RFC 7505).
// Every lookup goes through the injected resolver.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
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
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { exchange?: unknown }).exchange === 'string' &&
    typeof (v as { priority?: unknown }).priority === 'number'
  );
}

function stringsOf(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** IANA's global unicast allocation: every other IPv6 prefix is reserved, local, or special. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
/** RFC 6052's well-known NAT64 prefix: the address's last 32 bits are the IPv4 host it reaches. */
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one: IPv4-mapped `::ffff:a.b.c.d`, NAT64
 * `64:ff9b::a.b.c.d`, and 6to4 `2002:AABB:CCDD::/48` (RFC 3056). A connection to these reaches that
 * IPv4 host (by the socket layer, a NAT64 gateway or a 6to4 relay), so it is judged instead.
 */
function embeddedIPv4(a: ipaddr.IPv6): ipaddr.IPv4 | null {
  const group = (i: number): number => a.parts[i] ?? 0;
  const ipv4Of = (hi: number, lo: number): ipaddr.IPv4 => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  if (a.isIPv4MappedAddress()) return a.toIPv4Address();
  if (a.match(NAT64_WELL_KNOWN)) return ipv4Of(group(6), group(7));
  if (a.range() === '6to4') return ipv4Of(group(1), group(2));
  return null;
}

/**
 * `…:a.b.c.d` → `…:hhhh:hhhh`, the zone index dropped (only link-local addresses have one). ipaddr.js
 * reads the deprecated IPv4-compatible `::a.b.c.d` as the IPv4-mapped `::ffff:a.b.c.d`, which it is
 * not: the hex form keeps the two apart.
 */
function hexIPv4Tail(ip: string): string {
  const hex = (hi: string, lo: string): string => ((Number(hi) << 8) | Number(lo)).toString(16);
  return (ip.split('%')[0] ?? ip).replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_m, a: string, b: string, c: string, d: string) => `${hex(a, b)}:${hex(c, d)}`,
  );
}

/**
 * Every address that is not global unicast (RFC 6890 special-purpose ranges, as ipaddr.js names them:
 * anything but 'unicast'): a sender domain must not be able to point our notices at ourselves or at
 * hosts inside our network (an internal mail server may trust us and relay on). IPv6 outside 2000::/3
 * is refused whatever ipaddr.js says, which covers the deprecated IPv4-compatible `::a.b.c.d` (::/96),
 * site-local fec0::/10 and the local-use NAT64 prefix 64:ff9b:1::/48. Anything that is not an address
 * in its standard notation (`127.1`, `0x7f.1`) is refused too.
 */
export function isUnroutableAddress(ip: string): boolean {
  try {
    if (isIP(ip) === 4) return ipaddr.IPv4.parse(ip).range() !== 'unicast';
    if (isIP(ip) !== 6) return true;
    const v6 = ipaddr.IPv6.parse(hexIPv4Tail(ip));
    const v4 = embeddedIPv4(v6);
    if (v4) return v4.range() !== 'unicast';
    return v6.range() !== 'unicast' || !v6.match(GLOBAL_UNICAST_V6);
  } catch {
    return true;
  }
}

async function addressesOf(
  host: string,
  resolve: DnsResolver,
): Promise<{ addresses: string[]; temporary: string | null }> {
  if (isIP(host)) return { addresses: [host], temporary: null };
  const [a, aaaa] = await Promise.allSettled([resolve(host, 'A'), resolve(host, 'AAAA')]);
  const addresses = [
    ...(a.status === 'fulfilled' ? stringsOf(a.value) : []),
    ...(aaaa.status === 'fulfilled' ? stringsOf(aaaa.value) : []),
  ];
  const failures = [a, aaaa].flatMap((r) =>
    r.status === 'rejected' && !isDnsNoData(r.reason) ? [dnsErrorCode(r.reason)] : [],
  );
  return { addresses, temporary: failures[0] ?? null };
}

export async function lookupMailHosts(
  domain: string,
  resolve: DnsResolver,
  opts: { readonly allowUnroutable?: boolean } = {},
): Promise<MailHostLookup> {
  let records: { exchange: string; priority: number }[];
  try {
    records = (await resolve(domain, 'MX').then((v) => (Array.isArray(v) ? (v as unknown[]) : []))).filter(isMxRecord);
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
    const usable = r.addresses
      .filter((a) => opts.allowUnroutable === true || !isUnroutableAddress(a))
      .sort((p, q) => isIP(p) - isIP(q));
    if (usable.length > 0) hosts.push({ name: c.exchange, priority: c.priority, addresses: usable });
  }
  if (hosts.length > 0) return { kind: 'hosts', hosts };
  return temporary ? { kind: 'temporary', detail: `A/AAAA: ${temporary}` } : { kind: 'no-mail-host' };
}
