// Memory of recent notices: the last one per (sender, unknown recipient) and the count of the last
// hour. Bounded: an LRU of pairs and a window no longer than its cap. Rebuilt from the quarantine's
// `sent` entries at start, so a restart does not reset either limit.
import { LRUCache } from 'lru-cache';
import type { NoticeHistory } from './eligibility.js';

const HOUR_MS = 3_600_000;

export interface NoticeThrottle {
  view(sender: string, recipients: readonly string[], nowMs: number): NoticeHistory;
  /** When the hourly window next gives up a slot: the oldest notice of the last hour plus an hour. */
  nextSlotMs(nowMs: number): number;
  /** Counts a notice as sent at `atMs`; called when the send starts, so parallel attempts see each other. */
  record(sender: string, recipients: readonly string[], atMs: number): void;
}

export interface ThrottleOptions {
  /** Pairs remembered; the least recently used is forgotten first. */
  readonly maxPairs?: number;
  /** Upper bound of the hourly window's memory, whatever the configured cap. */
  readonly maxPerHourTracked?: number;
}

const pairKey = (sender: string, rcpt: string): string => `${sender.toLowerCase()}\u0000${rcpt.toLowerCase()}`;

export function createNoticeThrottle(opts: ThrottleOptions = {}): NoticeThrottle {
  const pairs = new LRUCache<string, number>({ max: opts.maxPairs ?? 100_000 });
  const windowCap = opts.maxPerHourTracked ?? 100_000;
  // timestamps of notices in the last hour, oldest first
  let hour: number[] = [];

  function prune(nowMs: number): void {
    const firstInWindow = hour.findIndex((t) => nowMs - t < HOUR_MS);
    if (firstInWindow < 0) hour = [];
    else if (firstInWindow > 0) hour = hour.slice(firstInWindow);
  }

  return {
    view(sender, recipients, nowMs) {
      prune(nowMs);
      return {
        lastSentMs: recipients.map((r) => pairs.get(pairKey(sender, r)) ?? null),
        sentInLastHour: hour.filter((t) => t <= nowMs).length,
      };
    },
    nextSlotMs(nowMs) {
      prune(nowMs);
      return hour.length > 0 ? (hour[0] ?? nowMs) + HOUR_MS : nowMs;
    },
    record(sender, recipients, atMs) {
      for (const r of recipients) {
        const key = pairKey(sender, r);
        const prev = pairs.get(key);
        if (prev === undefined || prev < atMs) pairs.set(key, atMs);
      }
      // kept sorted so prune() can cut the front; rebuilt entries arrive in any order
      let i = hour.length;
      while (i > 0 && (hour[i - 1] ?? 0) > atMs) i--;
      hour.splice(i, 0, atMs);
      if (hour.length > windowCap) hour = hour.slice(hour.length - windowCap);
    },
  };
}
