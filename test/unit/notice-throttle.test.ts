// The throttle's memory and the retry schedule.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_WINDOW_MS, isRetryWindowOver, retryDelayMs } from '../../src/notice/backoff.js';
import { createNoticeThrottle } from '../../src/notice/throttle.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;

describe('notice throttle', () => {
  it('remembers the last notice per (sender, recipient), case-insensitively', () => {
    const t = createNoticeThrottle();
    t.record('Jane@Shop.test', ['Typo@example.test'], T0);
    expect(t.view('jane@shop.test', ['typo@example.test', 'other@example.test'], T0 + MIN)).toEqual({
      lastSentMs: [T0, null],
      sentInLastHour: 1,
    });
    expect(t.view('someone@shop.test', ['typo@example.test'], T0 + MIN).lastSentMs).toEqual([null]);
  });

  it('counts the last hour only', () => {
    const t = createNoticeThrottle();
    t.record('a@x.test', ['r@example.test'], T0);
    t.record('b@x.test', ['r@example.test'], T0 + 30 * MIN);
    expect(t.view('c@x.test', [], T0 + 59 * MIN).sentInLastHour).toBe(2);
    expect(t.view('c@x.test', [], T0 + 61 * MIN).sentInLastHour).toBe(1);
    expect(t.view('c@x.test', [], T0 + 91 * MIN).sentInLastHour).toBe(0);
  });

  it('nextSlotMs: when the oldest notice of the last hour leaves the window (now, when the window is empty)', () => {
    const t = createNoticeThrottle();
    expect(t.nextSlotMs(T0)).toBe(T0);
    t.record('a@x.test', ['r@example.test'], T0 + 5 * MIN);
    t.record('b@x.test', ['r@example.test'], T0 + 30 * MIN);
    expect(t.nextSlotMs(T0 + 40 * MIN)).toBe(T0 + 65 * MIN);
    expect(t.nextSlotMs(T0 + 70 * MIN)).toBe(T0 + 90 * MIN);
    expect(t.nextSlotMs(T0 + 95 * MIN)).toBe(T0 + 95 * MIN);
  });

  it('entries rebuilt out of order are counted right', () => {
    const t = createNoticeThrottle();
    t.record('a@x.test', ['r@example.test'], T0 + 50 * MIN);
    t.record('b@x.test', ['r@example.test'], T0);
    t.record('c@x.test', ['r@example.test'], T0 + 20 * MIN);
    expect(t.view('d@x.test', [], T0 + 70 * MIN).sentInLastHour).toBe(2);
  });

  it('memory is bounded: the least recently used pair is forgotten first', () => {
    const t = createNoticeThrottle({ maxPairs: 2, maxPerHourTracked: 3 });
    t.record('a@x.test', ['r@example.test'], T0);
    t.record('b@x.test', ['r@example.test'], T0);
    t.record('c@x.test', ['r@example.test'], T0);
    t.record('d@x.test', ['r@example.test'], T0);
    expect(t.view('a@x.test', ['r@example.test'], T0).lastSentMs).toEqual([null]);
    expect(t.view('d@x.test', ['r@example.test'], T0).lastSentMs).toEqual([T0]);
    expect(t.view('z@x.test', [], T0).sentInLastHour).toBe(3);
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
