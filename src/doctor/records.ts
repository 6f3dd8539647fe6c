// The DNS records `doctor` tells the operator to publish, as zone-file lines, and the reading of the
// TXT records it finds (SPF, DMARC, DKIM tags). Pure. Records carry no TTL, like the one `dkim keygen`
// prints: the zone's default applies.
import ipaddr from 'ipaddr.js';

/** RFC 1035 §3.3.14: one character-string of a TXT record holds at most 255 octets. */
const TXT_STRING_MAX = 255;

export const bareName = (name: string): string => name.trim().replace(/\.$/, '').toLowerCase();

const fqdn = (name: string): string => `${bareName(name)}.`;

/** Two spellings of one address (`2001:db8::1`, `2001:DB8:0::1`, `::ffff:192.0.2.1`) compare equal. */
export function sameIp(a: string, b: string): boolean {
  try {
    return ipaddr.process(a).toNormalizedString() === ipaddr.process(b).toNormalizedString();
  } catch {
    return false;
  }
}

export const isIPv6 = (ip: string): boolean => ipaddr.IPv6.isValid(ip) && ipaddr.process(ip).kind() === 'ipv6';

/** `d.c.b.a.in-addr.arpa`, or the 32 nibbles of an IPv6 address under ip6.arpa. */
export function reverseName(ip: string): string {
  const a = ipaddr.process(ip);
  if (a.kind() === 'ipv4') return `${a.toByteArray().reverse().join('.')}.in-addr.arpa`;
  return `${[...Buffer.from(a.toByteArray()).toString('hex')].reverse().join('.')}.ip6.arpa`;
}

/** A TXT value in zone-file form: quoted, `"` and `\` escaped, split in strings of 255 octets. */
export function txtValue(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length || i === 0; i += TXT_STRING_MAX) {
    parts.push(`"${value.slice(i, i + TXT_STRING_MAX).replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  }
  return parts.join(' ');
}

export const txtRecord = (name: string, value: string): string => `${fqdn(name)} IN TXT ${txtValue(value)}`;

export const mxRecord = (domain: string, hostname: string): string => `${fqdn(domain)} IN MX 10 ${fqdn(hostname)}`;

export const ptrRecord = (ip: string, hostname: string): string => `${reverseName(ip)}. IN PTR ${fqdn(hostname)}`;

/** The A or AAAA record of the host; without a known address, the placeholder says what goes there. */
export function addressRecord(hostname: string, ip: string | null): string {
  if (ip === null) return `${fqdn(hostname)} IN A <the public IPv4 address of this server>`;
  return `${fqdn(hostname)} IN ${isIPv6(ip) ? 'AAAA' : 'A'} ${ipaddr.process(ip).toString()}`;
}

/** Each TXT record as one string (its character-strings joined, as every reader of SPF, DMARC and DKIM does). */
export const joinTxt = (records: readonly (readonly string[])[]): string[] => records.map((r) => r.join(''));

export const spfRecords = (records: readonly (readonly string[])[]): string[] =>
  joinTxt(records).filter((r) => /^v=spf1(\s|$)/i.test(r.trim()));

export const dmarcRecords = (records: readonly (readonly string[])[]): string[] =>
  joinTxt(records).filter((r) => /^v=DMARC1\s*(;|$)/i.test(r.trim()));

/** `tag=value; …` (DMARC, DKIM) → lower-case tag → value, whitespace around both removed. */
export function tags(record: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const tag = part.slice(0, eq).trim().toLowerCase();
    if (tag && !out.has(tag)) out.set(tag, part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * The SPF term that lets `ip` send: `hostTerm` (`a`, `a:mx.example.org`) when the host's A/AAAA already
 * holds the address — it then follows a renumbering — else the address itself.
 */
export function spfTermFor(ip: string, hostAddresses: readonly string[], hostTerm: string): string {
  if (hostAddresses.some((a) => sameIp(a, ip))) return hostTerm;
  return isIPv6(ip) ? `ip6:${ipaddr.process(ip).toString()}` : `ip4:${ipaddr.process(ip).toString()}`;
}

const isAllTerm = (t: string): boolean => /^[+\-~?]?all$/i.test(t);
const isModifier = (t: string, name: string): boolean => t.toLowerCase().startsWith(`${name}=`);

/**
 * One SPF record that keeps what the domain's present record(s) allow and adds `terms` in front: a name
 * may have only one SPF record (RFC 7208 §3.2), so the advice is always to merge, never to add one. With
 * no record yet: `v=spf1 <terms> -all`.
 */
export function mergeSpf(existing: readonly string[], terms: readonly string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (t: string): void => {
    const key = t.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push(t);
  };
  for (const t of terms) add(t);
  let all: string | null = null;
  let redirect: string | null = null;
  let exp: string | null = null;
  for (const record of existing) {
    for (const t of record.trim().split(/\s+/).slice(1)) {
      if (isAllTerm(t)) all ??= t;
      else if (isModifier(t, 'redirect')) redirect ??= t;
      else if (isModifier(t, 'exp')) exp ??= t;
      else add(t);
    }
  }
  // RFC 7208 §6.1: redirect= is ignored when the record has an all term
  const tail = all ? [all] : redirect ? [redirect] : existing.length ? [] : ['-all'];
  return ['v=spf1', ...out, ...(exp ? [exp] : []), ...tail].join(' ');
}

/** The DKIM record's value for the configured key, as `dkim keygen` writes it. */
export const dkimValue = (k: 'rsa' | 'ed25519', p: string): string => `v=DKIM1; k=${k}; p=${p}`;

export const dkimName = (selector: string, domain: string): string => `${selector}._domainkey.${bareName(domain)}`;
