// Client IP addresses as the limits and the trace header see them. ipaddr.js does the parsing.
import ipaddr from 'ipaddr.js';

/**
 * An IPv4 client on a dual-stack socket is reported as `::ffff:192.0.2.1`: that is 192.0.2.1, for the
 * per-client limits and for the Received: header alike. Anything else is returned as it is.
 */
export function plainClientAddress(ip: string): string {
  if (!ipaddr.IPv6.isValid(ip)) return ip;
  const a = ipaddr.IPv6.parse(ip);
  return a.isIPv4MappedAddress() ? a.toIPv4Address().toString() : ip;
}

/**
 * The key per-client limits count under: an IPv4 address (also when IPv4-mapped), or the /64 of an
 * IPv6 address — one end site gets a whole /64, and counting single addresses would let it rotate.
 */
export function clientKey(ip: string): string {
  const plain = plainClientAddress(ip);
  if (!ipaddr.IPv6.isValid(plain)) return plain;
  const parts = ipaddr.IPv6.parse(plain).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}
