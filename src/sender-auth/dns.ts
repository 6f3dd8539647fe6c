// The one DNS seam of the notice path: SPF/DMARC checks and direct-to-MX sending both ask through it,
// so tests can answer offline and a slow resolver can never hold a notice up for long.
import { errorText } from '../observability/error-text.js';
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Same shape as `dns.promises.resolve(name, rrtype)`, which is also what mailauth calls. */
export type DnsResolver = (name: string, rrtype: string) => Promise<unknown>;

export const DNS_TIMEOUT_MS = 5_000;

export function createSystemResolver(timeoutMs = DNS_TIMEOUT_MS): DnsResolver {
  // node's own timeout is per try; two tries keep a dead server from costing more than ~2 × timeout
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  return (name, rrtype) => resolver.resolve(name, rrtype);
}

/** A query that takes too long fails with ETIMEOUT, which mailauth maps to `temperror`. */
export function withDnsTimeout(resolve: DnsResolver, timeoutMs = DNS_TIMEOUT_MS): DnsResolver {
  return (name, rrtype) =>
    new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(Object.assign(new Error(`DNS timeout for ${name} ${rrtype}`), { code: 'ETIMEOUT' })),
        timeoutMs,
      );
      timer.unref();
      resolve(name, rrtype).then(
        (v) => {
          clearTimeout(timer);
          resolvePromise(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
}

/** The `dns` section of the configuration: resolvers as written ("host", "host:port", "[v6]:port"), timeout in ms. */
export interface DnsSettings {
  readonly servers?: readonly string[] | undefined;
  readonly timeout: number;
}

/** One configured server split into host and port; port 53 when the entry names none. */
export function parseDnsServer(entry: string): { readonly host: string; readonly port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { host: bracketed[1] ?? '', port: Number(bracketed[2] ?? 53) };
  // a bare IPv6 address has colons of its own: no port can follow it without brackets
  if (isIP(entry) === 6) return { host: entry, port: 53 };
  const colon = entry.lastIndexOf(':');
  return colon < 0 ? { host: entry, port: 53 } : { host: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) };
}

/** c-ares wants IP addresses; "[v6]:port" is the only form that keeps an IPv6 address and its port apart. */
function serverAddress(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * A server given by name (a resolver container in the same Compose project, say) is looked up once with
 * the system's resolver — the one place that can know it — and then asked by address.
 */
async function serverAddresses(servers: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const entry of servers) {
    const { host, port } = parseDnsServer(entry);
    if (isIP(host)) {
      out.push(serverAddress(host, port));
      continue;
    }
    for (const a of await lookup(host, { all: true })) out.push(serverAddress(a.address, port));
  }
  return out;
}

/**
 * The resolver the `dns` section describes: its servers (the system's when none are listed), and its
 * timeout as the bound of one whole look-up, however many servers and tries c-ares goes through.
 */
export function createConfiguredResolver(settings: DnsSettings): DnsResolver {
  // two tries in the bound: one lost UDP datagram must not fail a look-up
  const perTryMs = Math.max(50, Math.floor(settings.timeout / 2));
  const resolver = new Resolver({ timeout: perTryMs, tries: 2 });
  const servers = settings.servers;
  let ready: Promise<void> | null = null;
  const prepare = (): Promise<void> => {
    if (!servers) return Promise.resolve();
    ready ??= serverAddresses(servers).then(
      (addresses) => resolver.setServers(addresses),
      (err: unknown) => {
        // a name that cannot be looked up now may be found on the next query
        ready = null;
        throw Object.assign(new Error(`DNS server not found: ${errorText(err)}`), { code: 'ECONNREFUSED' });
      },
    );
    return ready;
  };
  return withDnsTimeout(async (name, rrtype) => {
    await prepare();
    return resolver.resolve(name, rrtype);
  }, settings.timeout);
}

/**
 * A resolver that follows the configuration a reload swaps in: rebuilt only when the `dns` section
 * changes, so a reload that leaves it alone keeps c-ares' open sockets.
 */
export function createFollowingResolver(current: () => DnsSettings): DnsResolver {
  let key = '';
  let resolver: DnsResolver | null = null;
  return (name, rrtype) => {
    const settings = current();
    const k = JSON.stringify([settings.servers ?? null, settings.timeout]);
    if (!resolver || k !== key) {
      resolver = createConfiguredResolver(settings);
      key = k;
    }
    return resolver(name, rrtype);
  };
}

/** NXDOMAIN / no records: an answer, not an outage. */
export function isDnsNoData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

export function dnsErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : errorText(err);
}
