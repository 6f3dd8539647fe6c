// SPEC §3/§4 `verify.upstream` for the served domains: the cache first, then a probe of the upstream
// mailbox server, and the catch-all check that switches verification off for a domain whose upstream
// would confirm any address. One per runtime; the prober and cache behind it outlive a reload.
import { randomBytes } from 'node:crypto';
import type { DomainFileConfig } from '../config/schema.js';
import type { EventSink } from '../observability/events.js';
import type { UpstreamAnswer } from '../policy/decide.js';
import type { VerifyCache } from './cache.js';
import type { ProbeAnswer, UpstreamProber } from './upstream-probe.js';

/** The prober (pooled connections) and the cache: kept while delivery.smtp stays the same. */
export interface VerifyBackend {
  readonly prober: UpstreamProber;
  readonly cache: VerifyCache;
  close(): Promise<void>;
}

/** `pending`: not yet known whether the upstream accepts any address; `catch-all`: it does, verify is off. */
export type VerifyStatus = 'off' | 'pending' | 'on' | 'catch-all';

export interface Verifier {
  status(domain: string): VerifyStatus;
  /**
   * The upstream's word on a local-part the directory does not know; undefined when verification is
   * off for its domain, or when only a probe could tell and `mayProbe` is false (the harvest limits).
   */
  verify(domain: string, localPart: string, opts: { readonly mayProbe: boolean }): Promise<UpstreamAnswer | undefined>;
  /** At start and on reload: one made-up local-part per verifying domain; the outcome is logged. */
  checkCatchAll(): Promise<void>;
}

interface DomainVerify {
  readonly separator: string;
  readonly positiveTtl: number;
  readonly negativeTtl: number;
}

type CatchAllCheck =
  { readonly ok: true; readonly catchAll: boolean } | { readonly ok: false; readonly detail: string };

/** The made-up local-part of the catch-all check: no mailbox has it. */
export const catchAllProbeLocalPart = (): string => `cg-probe-${randomBytes(8).toString('hex')}`;

export function createVerifier(
  domains: readonly DomainFileConfig[],
  backend: VerifyBackend | null,
  events: EventSink | null,
): Verifier {
  const configured = new Map<string, DomainVerify>();
  for (const d of domains)
    if (d.verify?.upstream === true)
      configured.set(d.name, {
        separator: d.subaddressSeparator,
        positiveTtl: d.verify.positiveTtl,
        negativeTtl: d.verify.negativeTtl,
      });
  const concluded = new Map<string, boolean>();
  const checking = new Map<string, Promise<CatchAllCheck>>();
  const inFlight = new Map<string, Promise<ProbeAnswer>>();

  function catchAll(domain: string, prober: UpstreamProber): Promise<CatchAllCheck> {
    const known = concluded.get(domain);
    if (known !== undefined) return Promise.resolve({ ok: true, catchAll: known });
    const running = checking.get(domain);
    if (running) return running;
    const made = `${catchAllProbeLocalPart()}@${domain}`;
    const check = prober.probe(made).then((a): CatchAllCheck => {
      checking.delete(domain);
      // "cannot tell" concludes nothing: asked again when the next unknown recipient needs it
      if (a.kind === 'unavailable') return { ok: false, detail: a.detail };
      const isCatchAll = a.kind === 'exists';
      concluded.set(domain, isCatchAll);
      if (isCatchAll)
        events?.emit({
          event: 'error',
          where: 'verify',
          domain,
          reason: 'verify-upstream-catch-all',
          error: `the upstream accepted ${made}, an address nobody has (${a.reply}): it accepts every address, so verify.upstream is off for ${domain} until the next reload`,
        });
      return { ok: true, catchAll: isCatchAll };
    });
    checking.set(domain, check);
    return check;
  }

  function probeOnce(prober: UpstreamProber, address: string): Promise<ProbeAnswer> {
    // a burst of RCPTs to one address costs one probe
    const running = inFlight.get(address);
    if (running) return running;
    const p = prober.probe(address).finally(() => inFlight.delete(address));
    inFlight.set(address, p);
    return p;
  }

  return {
    status(domain) {
      if (!configured.has(domain) || backend === null) return 'off';
      const c = concluded.get(domain);
      return c === undefined ? 'pending' : c ? 'catch-all' : 'on';
    },
    async verify(domain, localPart, opts) {
      const d = configured.get(domain);
      if (!d || backend === null) return undefined;
      const lower = localPart.toLowerCase();
      const sep = d.separator ? lower.indexOf(d.separator) : -1;
      // the mailbox, as the directory matches it: alice+news is asked about as alice
      const mailbox = sep > 0 ? lower.slice(0, sep) : lower;
      const address = `${mailbox}@${domain}`;
      if (concluded.get(domain) === true) return undefined;
      const cached = await backend.cache.get(address);
      if (cached === 'exists') return { kind: 'exists', mailbox, source: 'cache' };
      if (cached === 'no-such-user') return { kind: 'no-such-user', source: 'cache' };
      if (!opts.mayProbe) return undefined;
      const check = await catchAll(domain, backend.prober);
      if (!check.ok) return { kind: 'unavailable', detail: check.detail };
      if (check.catchAll) return undefined;
      const a = await probeOnce(backend.prober, address);
      switch (a.kind) {
        case 'exists':
          await backend.cache.set(address, 'exists', d.positiveTtl);
          return { kind: 'exists', mailbox, source: 'upstream' };
        case 'no-such-user':
          await backend.cache.set(address, 'no-such-user', d.negativeTtl);
          return { kind: 'no-such-user', source: 'upstream' };
        case 'unavailable':
          return { kind: 'unavailable', detail: a.detail };
      }
    },
    async checkCatchAll() {
      if (backend === null) return;
      await Promise.all(
        [...configured.keys()].map(async (domain) => {
          const r = await catchAll(domain, backend.prober);
          if (!r.ok)
            events?.emit({
              event: 'error',
              where: 'verify',
              domain,
              reason: 'verify-upstream-unavailable',
              error: `cannot ask the upstream whether it accepts any address (${r.detail}); unknown recipients of ${domain} get 451 4.4.3 until it answers`,
            });
        }),
      );
    },
  };
}
