// The throttle's memory and the retry schedule.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_WINDOW_MS, isRetryWindowOver, retryDelayMs } from '../../src/notice/backoff.js';
import { createNoticeThrottle } from '../../src/notice/throttle.js';
import { createMemoryStore } from '../../src/state/memory.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;

describe('notice throttle', () => {
  const DAY = 24 * 60 * MIN;
  const limits = { perSenderIntervalMs: DAY, maxPerHour: 200 };
  /** A throttle on a memory store whose clock is the test's. */
  function throttleAt(clock: { now: number }): ReturnType<typeof createNoticeThrottle> {
    return createNoticeThrottle(createMemoryStore({ now: () => clock.now }));
  }

  it('remembers the last notice per (sender, recipient), case-insensitively', async () => {
    const clock = { now: T0 + MIN };
    const t = throttleAt(clock);
    await t.record('q1', 'Jane@Shop.test', ['Typo@example.test'], T0, clock.now, limits);
    expect(await t.view('jane@shop.test', ['typo@example.test', 'other@example.test'], T0 + MIN)).toEqual({
      lastSentMs: [T0, null],
      sentInLastHour: 1,
    });
    expect((await t.view('someone@shop.test', ['typo@example.test'], T0 + MIN)).lastSentMs).toEqual([null]);
  });

  it('counts the last hour only', async () => {
    const clock = { now: T0 + 30 * MIN };
    const t = throttleAt(clock);
    await t.record('q1', 'a@x.test', ['r@example.test'], T0, clock.now, limits);
    await t.record('q2', 'b@x.test', ['r@example.test'], T0 + 30 * MIN, clock.now, limits);
    expect((await t.view('c@x.test', [], T0 + 59 * MIN)).sentInLastHour).toBe(2);
    expect((await t.view('c@x.test', [], T0 + 61 * MIN)).sentInLastHour).toBe(1);
    expect((await t.view('c@x.test', [], T0 + 91 * MIN)).sentInLastHour).toBe(0);
  });

  it('nextSlotMs: when the oldest notice of the last hour leaves the window (now, when the window is empty)', async () => {
    const clock = { now: T0 + 30 * MIN };
    const t = throttleAt(clock);
    expect(await t.nextSlotMs(T0)).toBe(T0);
    await t.record('q1', 'a@x.test', ['r@example.test'], T0 + 5 * MIN, clock.now, limits);
    await t.record('q2', 'b@x.test', ['r@example.test'], T0 + 30 * MIN, clock.now, limits);
    expect(await t.nextSlotMs(T0 + 40 * MIN)).toBe(T0 + 65 * MIN);
    expect(await t.nextSlotMs(T0 + 70 * MIN)).toBe(T0 + 90 * MIN);
    expect(await t.nextSlotMs(T0 + 95 * MIN)).toBe(T0 + 95 * MIN);
  });

  it('a history rebuilt out of order, or twice (two instances starting), is counted once', async () => {
    const clock = { now: T0 + 50 * MIN };
    const t = throttleAt(clock);
    for (let round = 0; round < 2; round++) {
      await t.record('q1', 'a@x.test', ['r@example.test'], T0 + 50 * MIN, clock.now, limits);
      await t.record('q2', 'b@x.test', ['r@example.test'], T0, clock.now, limits);
      await t.record('q3', 'c@x.test', ['r@example.test'], T0 + 20 * MIN, clock.now, limits);
    }
    expect((await t.view('d@x.test', [], T0 + 50 * MIN)).sentInLastHour).toBe(3);
    expect((await t.view('d@x.test', [], T0 + 70 * MIN)).sentInLastHour).toBe(2);
  });

  it('take: one notice per sender and address in the interval; a notice listing one new address still goes', async () => {
    const clock = { now: T0 };
    const t = throttleAt(clock);
    expect(await t.take('q1', 'jane@shop.test', ['typo@example.test'], T0, limits)).toBe(true);
    expect(await t.take('q2', 'jane@shop.test', ['TYPO@example.test'], T0 + MIN, limits)).toBe(false);
    expect(await t.take('q3', 'jane@shop.test', ['typo@example.test', 'new@example.test'], T0 + MIN, limits)).toBe(
      true,
    );
    // the address told again with it starts its interval again
    expect((await t.view('jane@shop.test', ['typo@example.test'], T0 + MIN)).lastSentMs).toEqual([T0 + MIN]);
    expect((await t.view('x@y.test', [], T0 + MIN)).sentInLastHour).toBe(2);
  });

  it('take: the hourly cap; a notice refused by it keeps its addresses news', async () => {
    const clock = { now: T0 };
    const t = throttleAt(clock);
    const capped = { perSenderIntervalMs: DAY, maxPerHour: 2 };
    expect(await t.take('q1', 'a@x.test', ['r@example.test'], T0, capped)).toBe(true);
    expect(await t.take('q2', 'b@x.test', ['r@example.test'], T0, capped)).toBe(true);
    expect(await t.take('q3', 'c@x.test', ['r@example.test'], T0, capped)).toBe(false);
    expect((await t.view('c@x.test', ['r@example.test'], T0)).lastSentMs).toEqual([null]);
    expect(await t.take('q3', 'c@x.test', ['r@example.test'], T0 + 61 * MIN, capped)).toBe(true);
  });

  it('take: two throttles on one store (two workers or MX hosts) give one notice per sender and address', async () => {
    const store = createMemoryStore();
    const a = createNoticeThrottle(store);
    const b = createNoticeThrottle(store);
    const results = await Promise.all([
      a.take('q1', 'jane@shop.test', ['typo@example.test'], T0, limits),
      b.take('q2', 'jane@shop.test', ['typo@example.test'], T0, limits),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('perSenderInterval 0: no per-pair limit, only the hour', async () => {
    const t = throttleAt({ now: T0 });
    const off = { perSenderIntervalMs: 0, maxPerHour: 0 };
    expect(await t.take('q1', 'a@x.test', ['r@example.test'], T0, off)).toBe(true);
    expect(await t.take('q2', 'a@x.test', ['r@example.test'], T0, off)).toBe(true);
  });
});

describe('retry schedule', () => {
  it('grows 1m, 5m, 15m, 30m, 1h, 2h, then stays at 4h', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => retryDelayMs(n) / MIN)).toEqual([
      1, 5, 15, 30, 60, 120, 240, 240, 240,
    ]);
  });
  it('scales with the base (tests use milliseconds)', () => {
    expect(retryDelayMs(1, 50)).toBe(50);
    expect(retryDelayMs(3, 50)).toBe(750);
  });
  it('retries for at least 24 hours from arrival', () => {
    expect(isRetryWindowOver(T0, T0 + DEFAULT_RETRY_WINDOW_MS - 1)).toBe(false);
    expect(isRetryWindowOver(T0, T0 + DEFAULT_RETRY_WINDOW_MS)).toBe(true);
    // the attempts before the window closes cover it: the schedule's sum passes 24 h
    let elapsed = 0;
    let n = 0;
    while (!isRetryWindowOver(T0, T0 + elapsed)) elapsed += retryDelayMs(++n);
    // 1 + 5 + 15 + 30 + 60 + 120 = 231 min, then 4 h steps: the 12th delay ends at 1671 min, past 1440
    expect(n).toBe(12); // a dozen attempts in all, not hundreds
    expect(elapsed).toBe(1671 * MIN);
  });
});
