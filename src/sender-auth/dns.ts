// The one DNS seam of the notice path: SPF/DMARC checks and direct-to-MX sending both ask through it,
// so tests can answer offline and a slow resolver can never hold a notice up for long.
import { errorText } from '../observability/error-text.js';
import { Resolver } from 'node:dns/promises';

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

/** NXDOMAIN / no records: an answer, not an outage. */
export function isDnsNoData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

export function dnsErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : errorText(err);
}
