// quarantine.sealedSpoolMemory at the gateway: the RCPT that makes a transaction a sealed one takes its
// share of the budget (quarantine/sealed-memory.ts) before the client sends any of the message, and is
// refused 452 4.3.1 when there is no room, as Postfix refuses MAIL when its queue lacks room. A
// transaction already sealed keeps its share for its further recipients.
import type { RcptOutcome } from '../policy/decide.js';
import { replies, type SmtpReply } from '../smtp/replies.js';
import type { GatewayContext } from './context.js';
import type { Runtime } from './runtime.js';

/** What on-data keeps in memory: a recipient whose message is stored, with sealTo, in the quarantine. */
const keepsEntry = (outcome: RcptOutcome): boolean =>
  outcome.kind === 'quarantine' || outcome.kind === 'reject-after-data';

/**
 * null when the RCPT may go on (no sealing, or its share is held); else the 452, already logged as the
 * RCPT's event with reason `sealed-memory-full`.
 */
export function sealedShareRefusal(
  ctx: GatewayContext,
  rt: Runtime,
  sid: string,
  outcome: RcptOutcome,
  logged: { readonly from: string; readonly rcpt: string },
): SmtpReply | null {
  const q = rt.config.quarantine;
  if (q.sealTo === undefined || !keepsEntry(outcome)) return null;
  const r = ctx.sealedMemory.reserve(sid, rt.config.server.maxMessageSize, q.sealedSpoolMemory);
  if (r.ok) return null;
  const reply = replies.sealedMemoryFull();
  ctx.events.emit({
    event: 'rcpt',
    sid,
    from: logged.from,
    rcpt: logged.rcpt,
    decision: 'deferred',
    code: reply.code,
    reason: 'sealed-memory-full',
  });
  return reply;
}

/**
 * At DATA: the bytes the sealed transaction may hold in memory, its share taken at RCPT. A transaction
 * that became a sealed one by a reload between RCPT and DATA takes it now; 0 when there is no room.
 */
export function sealedShareAtData(ctx: GatewayContext, rt: Runtime, sid: string): number {
  const held = ctx.sealedMemory.heldBy(sid);
  if (held > 0) return held;
  const r = ctx.sealedMemory.reserve(sid, rt.config.server.maxMessageSize, rt.config.quarantine.sealedSpoolMemory);
  return r.ok ? r.bytes : 0;
}
