// app/in-flight: what a graceful stop waits for.
import { describe, expect, it } from 'vitest';
import { createInFlight } from '../../src/app/in-flight.js';

describe('in-flight transactions', () => {
  it('none in flight: drained at once', async () => {
    expect(await createInFlight().drained(10_000)).toBe('drained');
  });

  it('drained when the last one ends, not before', async () => {
    const f = createInFlight();
    f.begin();
    f.begin();
    let settled: string | null = null;
    const p = f.drained(10_000).then((r) => (settled = r));
    f.end();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBeNull();
    expect(f.count()).toBe(1);
    f.end();
    expect(await p).toBe('drained');
    expect(f.count()).toBe(0);
  });

  it('the grace period ends the wait: timeout', async () => {
    const f = createInFlight();
    f.begin();
    expect(await f.drained(20)).toBe('timeout');
    expect(f.count()).toBe(1);
  });
});
