// One pass over one quarantine entry whose notice is pending: judge it, authenticate the sender if the
// policy asks, compose, send, and write down what happened. The entry's JSON is the only state, so a
// restart resumes exactly here.
//
// At-most-once: the entry is switched to `sending` (fsynced) before the first byte goes out. A crash
// while it says `sending` leaves it there, and the next start marks it failed instead of sending again.
import { Readable } from 'node:stream';
import { errorText } from '../observability/error-text.js';
import type { Config } from '../config/load.js';
import type { EventSink } from '../observability/events.js';
import type { NoticeState, QuarantineEntry } from '../quarantine/entry.js';
import type { MessageId } from '../quarantine/id.js';
import type { QuarantineStore } from '../quarantine/store.js';
import type { DnsResolver } from '../sender-auth/dns.js';
import { verifySenderAuth, type SenderAuth } from '../sender-auth/verify.js';
import { isRetryWindowOver, retryDelayMs } from './backoff.js';
import { recipientsByDomain } from './compose.js';
import { composeEntryNotices, failureWanted, type EntryNotice } from './compose-entry.js';
import { judgeNotice, type NoticeJudgement, type NoticePolicy } from './eligibility.js';
import type { NoticeTemplate } from './render.js';
import type { NoticeLanguage } from './templates.js';
import type { NoticeThrottle, ThrottleLimits } from './throttle.js';
import type { NoticeSendResult, NoticeTransport } from './transport.js';

export interface AttemptContext {
  readonly config: Config;
  readonly store: QuarantineStore;
  readonly transport: NoticeTransport;
  readonly throttle: NoticeThrottle;
  readonly events: EventSink;
  readonly resolver: DnsResolver;
  readonly now: () => Date;
  readonly retryBaseMs: number;
  readonly retryWindowMs: number;
  readonly loadTemplate: (language: NoticeLanguage, templatesDir: string | undefined) => Promise<NoticeTemplate>;
}

export type AttemptOutcome = { readonly kind: 'done' } | { readonly kind: 'retry-at'; readonly atMs: number };

const DONE: AttemptOutcome = { kind: 'done' };

export function noticePolicy(notices: Config['notices']): NoticePolicy {
  return {
    enabled: notices.enabled,
    format: notices.format,
    requireSenderAuth: notices.requireSenderAuth,
    perSenderIntervalMs: notices.perSenderInterval,
    maxPerHour: notices.maxPerHour,
  };
}

export const throttleLimits = (notices: Config['notices']): ThrottleLimits => ({
  perSenderIntervalMs: notices.perSenderInterval,
  maxPerHour: notices.maxPerHour,
});

/** Rounds of judge-then-take lost to parallel attempts before this one waits for the next pass. */
const TAKE_ROUNDS = 3;

export { failureWanted } from './compose-entry.js';

/** A send can take minutes (several MX hosts, each with its timeouts): an older claim is a crashed holder's. */
export const NOTICE_CLAIM_STALE_MS = 30 * 60_000;

/**
 * One attempt, under the entry's claim: instances sharing a data volume (SPEC §11) never work on the
 * same entry at once, so "never twice" holds across them too. Not claimed: another instance has it.
 */
export async function attemptNotice(id: MessageId, ctx: AttemptContext): Promise<AttemptOutcome> {
  const first = await ctx.store.get(id);
  // most entries need nothing (done, with their evidence): no claim file for them
  if (!first || (first.notice.status !== 'pending' && first.auth !== null)) return DONE;
  // only the evidence is missing (notices off, a suppressed or settled notice, a reject-after-data
  // record): no claim either, recordAuth writes it once whoever gets there first
  if (first.notice.status !== 'pending') {
    await recordEvidence(id, first, ctx);
    return DONE;
  }
  const claimed = await ctx.store.claimNotice(id, NOTICE_CLAIM_STALE_MS).catch(() => false);
  if (!claimed) return DONE;
  try {
    const outcome = await attemptClaimed(id, ctx);
    // the owner's evidence comes after the notice: it must not hold a notice back
    if (outcome.kind === 'done') {
      const settled = await ctx.store.get(id);
      if (settled && settled.auth === null) await recordEvidence(id, settled, ctx);
    }
    return outcome;
  } finally {
    await ctx.store.releaseNotice(id).catch(() => undefined);
  }
}

/**
 * SPEC §5: every entry records the sender's SPF and DMARC results, whether or not a notice needed
 * them (notices off, `requireSenderAuth: none`, a reject-after-data record): they are the owner's
 * evidence of who really sent it. Judged from what never changes in an entry (sender, client, HELO,
 * the stored message), so the copy read before is good enough.
 */
async function recordEvidence(id: MessageId, entry: QuarantineEntry, ctx: AttemptContext): Promise<void> {
  const auth = await authenticate(entry, ctx);
  await ctx.store.recordAuth(id, auth).catch((err: unknown) => {
    ctx.events.emit({ event: 'error', where: 'notice-outbox', qid: id, error: errorText(err) });
  });
}

async function attemptClaimed(id: MessageId, ctx: AttemptContext): Promise<AttemptOutcome> {
  const { store, events } = ctx;
  const entry = await store.get(id);
  if (!entry || entry.notice.status !== 'pending') return DONE;
  const nowMs = ctx.now().getTime();
  const dueMs = Date.parse(entry.notice.nextAttemptAt ?? '');
  if (Number.isFinite(dueMs) && dueMs > nowMs) return { kind: 'retry-at', atMs: dueMs };
  const to = entry.mailFrom;
  const receivedAtMs = Date.parse(entry.receivedAt);
  const attempts = entry.notice.attempts;

  async function write(notice: NoticeState, auth?: SenderAuth): Promise<QuarantineEntry | null> {
    return store.updateNotice(id, notice, auth ? { auth } : undefined);
  }
  function log(
    status: 'sent' | 'suppressed' | 'deferred' | 'failed',
    reason: string | undefined,
    extra: { attempts?: number; detail?: string } = {},
  ): void {
    events.emit({ event: 'notice', qid: id, to: to || '<>', status, ...(reason ? { reason } : {}), ...extra });
  }
  async function suppress(reason: string, auth?: SenderAuth): Promise<AttemptOutcome> {
    await write({ status: 'suppressed', reason, attempts, to }, auth);
    log('suppressed', reason);
    return DONE;
  }

  async function waitForSlot(atMs: number, auth: SenderAuth | undefined): Promise<AttemptOutcome> {
    if (isRetryWindowOver(receivedAtMs, atMs, ctx.retryWindowMs)) {
      await write({ status: 'failed', reason: 'hourly-cap', attempts, to }, auth);
      log('failed', 'hourly-cap', { attempts });
      return DONE;
    }
    // attempts stays as it is: nothing was sent, and the next pass judges the entry afresh
    await write(
      { status: 'pending', reason: 'hourly-cap', attempts, to, nextAttemptAt: new Date(atMs).toISOString() },
      auth,
    );
    log('deferred', 'hourly-cap', { attempts });
    return { kind: 'retry-at', atMs };
  }

  const policy = noticePolicy(ctx.config.notices);
  // the DSN quotes the original header block (never the body); a sealed entry's notice was composed at receipt
  const originalHeaders = entry.sealed ? null : await store.readHeaders(id);
  const candidate = {
    mailFrom: entry.mailFrom,
    recipients: entry.recipients,
    failureWanted: failureWanted(entry),
    headers: entry.headers,
  };
  const retry = attempts > 0;
  let auth: SenderAuth | undefined = entry.auth ?? undefined;
  // a "send" takes its place in the throttle at once (a claim per pair, a slot of the hour, in the state
  // store that workers and MX hosts share): a parallel attempt that took it first makes this one judge
  // again, so two can never both slip under a limit
  const judge = async (): Promise<NoticeJudgement> => {
    for (let round = 0; round < TAKE_ROUNDS; round++) {
      const nowMs = ctx.now().getTime();
      const history = await ctx.throttle.view(to, entry.recipients, nowMs);
      const v = judgeNotice({ policy, candidate, auth, history, nowMs, retry });
      // a retry was counted on its first attempt
      if (v.kind !== 'send' || retry) return v;
      if (await ctx.throttle.take(id, to, entry.recipients, nowMs, throttleLimits(ctx.config.notices))) return v;
    }
    return { kind: 'wait', reason: 'hourly-cap' };
  };
  let verdict = await judge();
  if (verdict.kind === 'authenticate') {
    auth = await authenticate(entry, ctx);
    verdict = await judge();
  }
  switch (verdict.kind) {
    case 'suppress':
      return suppress(verdict.reason, auth);
    case 'wait':
      return waitForSlot(await ctx.throttle.nextSlotMs(ctx.now().getTime()), auth);
    case 'authenticate':
      // judged with a result in hand, the gate has passed or suppressed: this cannot come back
      return suppress('sender-auth-failed', auth);
    case 'send':
      break;
  }

  // SPEC §6: one notice per served domain of the unknown recipients (its From: at that domain); a
  // retry sends only the ones that have not gone out yet
  const wanted = new Set(entry.recipients.filter((_r, i) => candidate.failureWanted[i] !== false));
  const groups = recipientsByDomain(entry.recipients.filter((r) => wanted.has(r)));
  const sentDomains = [...(entry.notice.sentDomains ?? [])];
  let notices: EntryNotice[];
  try {
    notices = entry.sealed
      ? await composedAtReceipt(id, sentDomains, ctx)
      : await composeEntryNotices({
          entry,
          originalHeaders,
          config: ctx.config,
          template: await ctx.loadTemplate(ctx.config.notices.language, ctx.config.notices.templatesDir),
          date: ctx.now(),
          sentDomains,
        });
  } catch (err) {
    await write({ status: 'failed', reason: 'compose-error', attempts, to, lastError: errorText(err) }, auth);
    log('failed', 'compose-error', { detail: errorText(err) });
    return DONE;
  }
  // more than one domain: the state records which went out, so a crash or a deferral never repeats one
  const progress = (): { sentDomains?: string[] } => (groups.length > 1 ? { sentDomains: [...sentDomains] } : {});

  const attempt = attempts + 1;
  const startedAt = ctx.now().toISOString();
  try {
    const sending: NoticeState = { status: 'sending', attempts: attempt, to, nextAttemptAt: startedAt, ...progress() };
    if (!(await write(sending, auth))) return DONE;
  } catch (err) {
    // nothing was sent and the entry still says pending: try again after the first backoff step
    events.emit({ event: 'error', where: 'notice-outbox', qid: id, error: errorText(err) });
    return { kind: 'retry-at', atMs: ctx.now().getTime() + retryDelayMs(1, ctx.retryBaseMs) };
  }
  let result: NoticeSendResult = { kind: 'sent', response: '' };
  for (const { domain, notice } of notices) {
    result = await ctx.transport.send(notice);
    if (result.kind !== 'sent') break;
    sentDomains.push(domain);
  }
  const doneMs = ctx.now().getTime();
  try {
    return await settle(result);
  } catch (err) {
    // the entry stays `sending`: at the next start it is marked failed, never sent a second time
    events.emit({ event: 'error', where: 'notice-outbox', qid: id, error: errorText(err) });
    return DONE;
  }

  async function settle(r: NoticeSendResult): Promise<AttemptOutcome> {
    if (r.kind === 'sent') {
      await write({ status: 'sent', attempts: attempt, to, sentAt: new Date(doneMs).toISOString(), ...progress() });
      log('sent', undefined, { attempts: attempt });
      return DONE;
    }
    if (r.kind === 'failed' || isRetryWindowOver(receivedAtMs, doneMs, ctx.retryWindowMs)) {
      const reason = r.kind === 'failed' ? r.reason : 'retries-exhausted';
      await write({ status: 'failed', reason, attempts: attempt, to, lastError: r.detail, ...progress() });
      log('failed', reason, { attempts: attempt, detail: r.detail });
      return DONE;
    }
    const atMs = doneMs + retryDelayMs(attempt, ctx.retryBaseMs);
    await write({
      status: 'pending',
      reason: r.reason,
      attempts: attempt,
      to,
      nextAttemptAt: new Date(atMs).toISOString(),
      lastError: r.detail,
      ...progress(),
    });
    log('deferred', r.reason, { attempts: attempt, detail: r.detail });
    return { kind: 'retry-at', atMs };
  }
}

/**
 * A sealed entry's notices as composed at receipt (the server cannot read its message back), less the
 * domains already sent. Missing, they are a compose error: nothing else could say what to send.
 */
async function composedAtReceipt(
  id: MessageId,
  sentDomains: readonly string[],
  ctx: AttemptContext,
): Promise<EntryNotice[]> {
  const pending = await ctx.store.readComposedNotices(id);
  if (!pending) throw new Error(`the notice composed at receipt (${id}.notice.json) is missing or unreadable`);
  return pending
    .filter((n) => !sentDomains.includes(n.domain))
    .map((n) => ({
      domain: n.domain,
      notice: { envelope: { from: '', to: n.to }, raw: n.raw, messageId: n.messageId },
    }));
}

/**
 * What the DMARC check of a sealed entry sees: its From: field alone. The server cannot read the
 * sealed message back, so DKIM signatures go unchecked and DMARC rests on SPF aligned with that
 * domain (README: sealed quarantine).
 */
function fromFieldOnly(entry: QuarantineEntry): Readable {
  return Readable.from([Buffer.from(entry.headerFrom ? `From: ${entry.headerFrom}\r\n\r\n` : '\r\n')]);
}

/** Both results, whatever requireSenderAuth asks: the notice gate reads one, the owner both (SPEC §5). */
function authenticate(entry: QuarantineEntry, ctx: AttemptContext): Promise<SenderAuth> {
  return verifySenderAuth(
    {
      mode: 'dmarc',
      sender: entry.mailFrom,
      ip: entry.remoteAddress,
      helo: entry.helo,
      hostname: ctx.config.server.hostname,
      openMessage: () => (entry.sealed ? fromFieldOnly(entry) : ctx.store.openMessage(entry.id as MessageId)),
      dnsTimeoutMs: ctx.config.dns.timeout,
    },
    ctx.resolver,
  );
}
