// Whether a RCPT may cost a probe of the upstream mailbox server (SPEC §3 `verify.upstream`). Pure.
import type { NotAskedReason, RcptContext } from './decide.js';

/** What the client IP has going on besides this RCPT (src/verify/probe-ledger.ts). */
export interface ProbesForIp {
  /** Asks of the upstream under way for this IP: each may still end as an unknown-recipient answer. */
  readonly underWay: number;
  /** Observe mode: probes this hour for this IP that found no mailbox. */
  readonly observeSpent: number;
}

const NONE: ProbesForIp = { underWay: 0, observeSpent: 0 };

/**
 * `probe`: ask. `not-needed`: the decision does not depend on the upstream (not an unknown local-part,
 * shutting down, the transaction full). Otherwise why not, which the decision answers for itself:
 *
 * - Only while the session and the client IP are within the harvest limits: those apply before the
 *   probe, so a harvest burst never becomes a probe burst, and a client past them gets its usual reply
 *   (421). Asks under way for the same IP count as unknown answers until theirs are in, so parallel
 *   sessions cannot probe past the limit between them.
 * - Observe mode has no harvest limits (SPEC §3), but the upstream is not asked more than
 *   maxUnknownRecipientsPerIp times an hour per IP about addresses it then does not know: past that the
 *   RCPT is observed unasked, which is safe (its mail reaches the observe mailbox either way).
 */
export function probeGate(
  ctx: Omit<RcptContext, 'upstream'>,
  forIp: ProbesForIp = NONE,
): 'probe' | 'not-needed' | NotAskedReason {
  const { answer, counts, limits } = ctx;
  if (ctx.shuttingDown || ctx.recipient.kind !== 'mailbox' || answer?.kind !== 'unknown') return 'not-needed';
  if (counts.rcptInTransaction >= limits.maxRecipients) return 'not-needed';
  const perIp = limits.maxUnknownRecipientsPerIp;
  if (answer.mode === 'observe')
    return perIp > 0 && forIp.observeSpent + forIp.underWay >= perIp ? 'observe-allowance' : 'probe';
  if (limits.maxUnknownRecipients > 0 && counts.unknownInSession >= limits.maxUnknownRecipients)
    return 'max-unknown-recipients';
  if (perIp > 0 && counts.unknownForIp + forIp.underWay >= perIp) return 'max-unknown-recipients-per-ip';
  return 'probe';
}

/** probeGate for this RCPT alone, with nothing else under way for its IP. */
export function mayProbe(ctx: Omit<RcptContext, 'upstream'>): boolean {
  return probeGate(ctx) === 'probe';
}
