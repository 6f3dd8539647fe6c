// Which peers may open a connection with a PROXY protocol header (`server.proxyProtocol.trusted`):
// a load balancer or proxy in front of us that tells the real client address. Anyone else who sent
// one could claim any address, so only listed addresses and ranges are asked for it. Pure.
import ipaddr from 'ipaddr.js';
import { plainClientAddress } from './ip.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Dotted-quad IPv4 or IPv6 only: ipaddr.js also takes "10.1" and octal or hex forms, which nobody means here. */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(':') && ipaddr.IPv6.isValid(text)) return ipaddr.parse(plainClientAddress(text));
  return null;
}

function parseRange(entry: string): Range | null {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
  const addr = m ? parseAddress(m[1] ?? '') : null;
  if (!m || !addr) return null;
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  const bits = m[2] === undefined ? max : Number(m[2]);
  return bits <= max ? [addr, bits] : null;
}

/** Why an entry of the trusted list is unusable; null when it is an address or a CIDR range. */
export function trustedEntryProblem(entry: string): string | null {
  return parseRange(entry) !== null
    ? null
    : `"${entry}" is not an IP address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32`;
}

/** A matcher for the peer address a socket reports (an IPv4 peer of a dual-stack socket included). */
export function trustedPeers(entries: readonly string[]): (address: string) => boolean {
  const ranges = entries.map(parseRange).filter((r): r is Range => r !== null);
  return (address) => {
    const plain = plainClientAddress(address);
    if (!ipaddr.isValid(plain)) return false;
    const addr = ipaddr.parse(plain);
    return ranges.some(([base, bits]) => base.kind() === addr.kind() && addr.match(base, bits));
  };
}
