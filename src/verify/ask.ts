// Between the directory's answer and the decision (SPEC §4 order): the upstream's word, when the
// directory does not know the local-part and its domain verifies. Shared by the gateway and `check`.
import type { RcptContext, UpstreamAnswer } from '../policy/decide.js';
import { mayProbe } from '../policy/probe-gate.js';
import type { Verifier } from './verifier.js';

/**
 * `askingForIp`: probes already under way for the same client IP. They may each end as an unknown
 * recipient, so they count against maxUnknownRecipientsPerIp before their answers are in: parallel
 * sessions from one IP cannot get more probes than the limit between them.
 */
export function askUpstream(
  verifier: Verifier,
  facts: Omit<RcptContext, 'upstream'>,
  askingForIp = 0,
): Promise<UpstreamAnswer | undefined> {
  const { recipient, answer } = facts;
  if (recipient.kind !== 'mailbox' || answer?.kind !== 'unknown') return Promise.resolve(undefined);
  const counts = { ...facts.counts, unknownForIp: facts.counts.unknownForIp + askingForIp };
  return verifier.verify(recipient.address.domain, recipient.address.localPart, {
    mayProbe: mayProbe({ ...facts, counts }),
  });
}

/** Probes under way per client IP, for askUpstream's `askingForIp`. */
export interface AskingPerIp {
  count(ip: string): number;
  /** Around one askUpstream: counted while it runs. */
  during<T>(ip: string, p: () => Promise<T>): Promise<T>;
}

export function createAskingPerIp(): AskingPerIp {
  const asking = new Map<string, number>();
  return {
    count: (ip) => asking.get(ip) ?? 0,
    async during(ip, p) {
      asking.set(ip, (asking.get(ip) ?? 0) + 1);
      try {
        return await p();
      } finally {
        const n = (asking.get(ip) ?? 1) - 1;
        if (n <= 0) asking.delete(ip);
        else asking.set(ip, n);
      }
    },
  };
}

/** The rcpt event's fields that say where the answer came from (README, Logs). */
export function upstreamFields(upstream: UpstreamAnswer | undefined): {
  source?: 'upstream' | 'cache';
  detail?: string;
} {
  if (upstream === undefined) return {};
  return upstream.kind === 'unavailable' ? { detail: upstream.detail } : { source: upstream.source };
}
