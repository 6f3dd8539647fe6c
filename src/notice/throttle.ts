// Memory of recent notices, in the state store so every worker and MX host sharing it keeps one limit
// (SPEC §4): when the last notice per (sender, unknown recipient) went out, and the notices of the last
// hour. Rebuilt from the quarantine's `sent` entries at start, so a restart does not reset either
// limit; rebuilding twice (two instances starting) counts nothing twice: hour events are entry ids.
import { createMemoryStore } from '../state/memory.js';
import { stateKeys, type StateStore } from '../state/store.js';
import type { NoticeHistory } from './eligibility.js';

const HOUR_MS = 3_600_000;

export interface ThrottleLimits {
  readonly perSenderIntervalMs: number;
  /** 0: no cap. */
  readonly maxPerHour: number;
}

export interface NoticeThrottle {
  view(sender: string, recipients: readonly string[], nowMs: number): Promise<NoticeHistory>;
  /** When the hourly window next gives up a slot: the oldest notice of the last hour plus an hour. */
  nextSlotMs(nowMs: number): Promise<number>;
  /**
   * Takes the place of notice `id`, judged "send" from a view: marks each of its (sender, recipient)
   * pairs and takes a slot of the hour, when the send starts. False when a parallel attempt (another
   * worker or host) took a pair or the last slot since the view: judge again with a fresh view.
   */
  take(
    id: string,
    sender: string,
    recipients: readonly string[],
    atMs: number,
    limits: ThrottleLimits,
  ): Promise<boolean>;
  /** A notice that went out at `atMs`, seen at `nowMs` (the history rebuilt at start). */
  record(
    id: string,
    sender: string,
    recipients: readonly string[],
    atMs: number,
    nowMs: number,
    limits: ThrottleLimits,
  ): Promise<void>;
}

export function createNoticeThrottle(store: StateStore = createMemoryStore()): NoticeThrottle {
  const hourKey = stateKeys.noticeHour();

  async function lastSent(sender: string, rcpt: string): Promise<number | null> {
    const v = await store.get(stateKeys.noticePair(sender, rcpt));
    const t = v === null ? NaN : Number(v);
    return Number.isFinite(t) ? t : null;
  }

  return {
    async view(sender, recipients, nowMs) {
      const [lastSentMs, hour] = await Promise.all([
        Promise.all(recipients.map((r) => lastSent(sender, r))),
        store.windowView(hourKey, nowMs, HOUR_MS),
      ]);
      return { lastSentMs, sentInLastHour: hour.count };
    },
    async nextSlotMs(nowMs) {
      const hour = await store.windowView(hourKey, nowMs, HOUR_MS);
      return hour.oldestMs === null ? nowMs : hour.oldestMs + HOUR_MS;
    },
    async take(id, sender, recipients, atMs, limits) {
      const stamp = String(atMs);
      const keys = recipients.map((r) => stateKeys.noticePair(sender, r));
      const claimed: string[] = [];
      if (limits.perSenderIntervalMs > 0 && keys.length > 0) {
        // the notice goes out when one of its addresses is news to the sender: claim those (SET NX);
        // none claimed means a parallel attempt just told the sender about all of them
        const recent = await Promise.all(
          recipients.map(async (r) => {
            const t = await lastSent(sender, r);
            return t !== null && atMs - t < limits.perSenderIntervalMs;
          }),
        );
        for (const [i, key] of keys.entries()) {
          if (!recent[i] && (await store.claim(key, stamp, limits.perSenderIntervalMs))) claimed.push(key);
        }
        if (claimed.length === 0) return false;
      }
      const slot = await store.windowAdd(hourKey, id, atMs, {
        nowMs: atMs,
        windowMs: HOUR_MS,
        limit: limits.maxPerHour,
      });
      if (!slot.added) {
        await Promise.all(claimed.map((k) => store.release(k, stamp)));
        return false;
      }
      // the others listed in this notice were told again now: their interval starts again too
      if (limits.perSenderIntervalMs > 0)
        await Promise.all(
          keys.filter((k) => !claimed.includes(k)).map((k) => store.set(k, stamp, limits.perSenderIntervalMs)),
        );
      return true;
    },
    async record(id, sender, recipients, atMs, nowMs, limits) {
      const left = limits.perSenderIntervalMs - (nowMs - atMs);
      // a newer notice another instance recorded is kept (SET NX): only ever the later time counts
      if (left > 0)
        await Promise.all(recipients.map((r) => store.claim(stateKeys.noticePair(sender, r), String(atMs), left)));
      await store.windowAdd(hourKey, id, atMs, { nowMs: Math.max(nowMs, atMs), windowMs: HOUR_MS, limit: 0 });
    },
  };
}
