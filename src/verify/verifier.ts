// SPEC §3/§4 `verify.upstream` for the served domains: the cache first, then a probe of the upstream
// mailbox server, and the catch-all check that switches verification off for a domain whose upstream
// would confirm any address. One per runtime; the prober and cache behind it outlive a reload.
import { randomBytes } from 'node:crypto';
import type { DomainFileConfig } from '../config/schema.js';
import type { EventSink } from '../observability/events.js';
import type { UpstreamAnswer } from '../policy/decide.js';

type NotAsked = Extract<UpstreamAnswer, { kind: 'not-asked' }>;
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
   * off for its domain. When only a probe could tell and `mayProbe` is false: `notAsked` (the probe
   * gate's reason), or undefined when the decision does not need an answer.
   */
  verify(
    domain: string,
    localPart: string,
    opts: { readonly mayProbe: true } | { readonly mayProbe: false; readonly notAsked?: NotAsked },
  ): Promise<UpstreamAnswer | undefined>;
  /** At start and on reload: one made-up local-part per verifying domain; the outcome is logged. */
  checkCatchAll(): Promise<void>;
}

interface DomainVerify {
  readonly separator: string;
  readonly positiveTtl: number;
  readonly negativeTtl: number;
}

type CatchAllCheck =
  | { readonly ok: true; readonly catchAll: boolean }
  /** `notAsked`: the last check failed less than `catchAllRetryMs` ago, so none was sent now. */
  | { readonly ok: false; readonly detail: string; readonly notAsked?: true };

/**
 * How hard a failing upstream is asked (README, "Asking the mailbox server"). A catch-all check that
 * got no answer is sent again at most once a minute, not for every RCPT; after 5 probes in a row
 * without an answer the upstream is left alone for 10 s (RCPTs that need it get 451 4.4.3 at once),
 * then the next probe tries again: a rate-limiting or struggling upstream is not hammered.
 */
export interface VerifierTiming {
  readonly catchAllRetryMs: number;
  readonly failureStreak: number;
  readonly pauseMs: number;
  readonly now: () => number;
}

export const VERIFIER_TIMING: VerifierTiming = {
  catchAllRetryMs: 60_000,
  failureStreak: 5,
  pauseMs: 10_000,
  now: Date.now,
};

/** The made-up local-part of the catch-all check: no mailbox has it. */
export const catchAllProbeLocalPart = (): string => `cg-probe-${randomBytes(8).toString('hex')}`;

export function createVerifier(
  domains: readonly DomainFileConfig[],
  backend: VerifyBackend | null,
  events: EventSink | null,
  timing: Partial<VerifierTiming> = {},
): Verifier {
  const { catchAllRetryMs, failureStreak, pauseMs, now } = { ...VERIFIER_TIMING, ...timing };
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
  /** The catch-all check per domain that last got no answer: when, and what it got. */
  const checkFailed = new Map<string, { readonly atMs: number; readonly detail: string }>();
  /** Probes in a row without an answer, the last one's detail, and until when the upstream is left alone. */
  let failures = 0;
  let lastFailure = '';
  let pausedUntil = 0;

  function catchAll(domain: string, prober: UpstreamProber): Promise<CatchAllCheck> {
    const known = concluded.get(domain);
    if (known !== undefined) return Promise.resolve({ ok: true, catchAll: known });
    const running = checking.get(domain);
    if (running) return running;
    const failed = checkFailed.get(domain);
    if (failed && now() - failed.atMs < catchAllRetryMs) {
      const again = new Date(failed.atMs + catchAllRetryMs).toISOString();
      return Promise.resolve({
        ok: false,
        notAsked: true,
        detail: `not asked: the catch-all check got no answer (${failed.detail}); asked again from ${again}`,
      });
    }
    const made = `${catchAllProbeLocalPart()}@${domain}`;
    const check = prober.probe(made).then((a): CatchAllCheck => {
      checking.delete(domain);
      // "cannot tell" concludes nothing: asked again when an unknown recipient needs it, a minute on
      if (a.kind === 'unavailable') {
        checkFailed.set(domain, { atMs: now(), detail: a.detail });
        return { ok: false, detail: a.detail };
      }
      checkFailed.delete(domain);
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

  /** Counts an answer toward the failure streak; the streak's end pauses the probes (VerifierTiming). */
  function tally(a: ProbeAnswer): void {
    if (a.kind !== 'unavailable') {
      failures = 0;
      pausedUntil = 0;
      return;
    }
    failures++;
    lastFailure = a.detail;
    if (failures < failureStreak || now() < pausedUntil) return;
    pausedUntil = now() + pauseMs;
    events?.emit({
      event: 'error',
      where: 'verify',
      reason: 'verify-upstream-unavailable',
      error: `the upstream answered none of the last ${failures} probes (${a.detail}); unknown recipients get 451 4.4.3 without a probe until ${new Date(pausedUntil).toISOString()}`,
    });
  }

  function probeOnce(prober: UpstreamProber, address: string): Promise<ProbeAnswer> {
    // a burst of RCPTs to one address costs one probe
    const running = inFlight.get(address);
    if (running) return running;
    const p = prober
      .probe(address)
      .then((a) => {
        tally(a);
        return a;
      })
      .finally(() => inFlight.delete(address));
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
      if (!opts.mayProbe) return opts.notAsked;
      const check = await catchAll(domain, backend.prober);
      if (!check.ok)
        return check.notAsked === true
          ? { kind: 'unavailable', detail: check.detail, notAsked: true }
          : { kind: 'unavailable', detail: check.detail };
      if (check.catchAll) return undefined;
      if (now() < pausedUntil)
        return {
          kind: 'unavailable',
          notAsked: true,
          detail: `not asked: the upstream failed ${failures} probes in a row (${lastFailure}); asked again from ${new Date(pausedUntil).toISOString()}`,
        };
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
