// Whether a RCPT may cost a probe of the upstream mailbox server (SPEC §3 `verify.upstream`). Pure.
import type { RcptContext } from './decide.js';

/**
 * Only a local-part the directory does not know is asked about, and only while the session and the
 * client IP are within the harvest limits: those apply before the probe, so a harvest burst never
 * becomes a probe burst, and a client past them gets its usual reply (421) without one. Observe mode
 * has no harvest limits (SPEC §3); there the probe pool and the cache are the bound.
 */
export function mayProbe(ctx: Omit<RcptContext, 'upstream'>): boolean {
  const { answer, counts, limits } = ctx;
  if (ctx.shuttingDown || ctx.recipient.kind !== 'mailbox' || answer?.kind !== 'unknown') return false;
  if (counts.rcptInTransaction >= limits.maxRecipients) return false;
  if (answer.mode === 'observe') return true;
  if (limits.maxUnknownRecipients > 0 && counts.unknownInSession >= limits.maxUnknownRecipients) return false;
  if (limits.maxUnknownRecipientsPerIp > 0 && counts.unknownForIp >= limits.maxUnknownRecipientsPerIp) return false;
  return true;
}
