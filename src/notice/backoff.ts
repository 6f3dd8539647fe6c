// When to try a deferred notice again. Pure.

/** Multiples of the base: with the default one-minute base 1m, 5m, 15m, 30m, 1h, 2h, then every 4h. */
const STEPS = [1, 5, 15, 30, 60, 120, 240] as const;

export const DEFAULT_RETRY_BASE_MS = 60_000;
/** SPEC §6: retried for at least 24 hours. */
export const DEFAULT_RETRY_WINDOW_MS = 24 * 3_600_000;

/** Delay after the `attempts`-th failed attempt (1 = the first one failed). */
export function retryDelayMs(attempts: number, baseMs: number = DEFAULT_RETRY_BASE_MS): number {
  const step = STEPS[Math.min(Math.max(attempts, 1), STEPS.length) - 1] ?? 240;
  return step * baseMs;
}

/** Gives up only once the window since the message arrived has fully passed, so retries last at least that long. */
export function isRetryWindowOver(
  receivedAtMs: number,
  nowMs: number,
  windowMs: number = DEFAULT_RETRY_WINDOW_MS,
): boolean {
  return nowMs - receivedAtMs >= windowMs;
}
