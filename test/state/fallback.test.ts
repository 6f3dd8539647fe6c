// Redis away, Redis slow, Redis back: every operation still answers, the outage is one `state` event
// and the gauge, and the shared store is used again without a restart. A real redis-server throughout.
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { createFallbackStore, type FallbackStore } from '../../src/state/fallback.js';
import { createRedisStore } from '../../src/state/redis.js';
import { captureEvents } from '../helpers/log-capture.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer | null = null;
const stores: FallbackStore[] = [];

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await redis?.stop();
  redis = null;
});

function fallbackOn(
  server: RedisServer,
  timeoutMs: number,
): { store: FallbackStore; log: ReturnType<typeof captureEvents> } {
  const log = captureEvents();
  const store = createFallbackStore(createRedisStore({ url: server.url, prefix: 'fb:', timeoutMs }), {
    events: log.sink,
    pingMs: 100,
  });
  stores.push(store);
  return { store, log };
}

describe('state store fallback', () => {
  it('Redis stopped: answers from memory, one state event ok:false, the gauge 1; restarted: ok:true and shared again', async () => {
    redis = await startRedis();
    const { store, log } = fallbackOn(redis, 500);
    const metrics = createMetrics(log.sink);
    await store.start();
    expect(store.degraded()).toBe(false);
    expect(await store.incr('unknown:192.0.2.9', 60_000)).toBe(1);

    await redis.stop();
    // the counter goes on locally (from scratch: the shared count is where Redis was)
    expect(await store.incr('unknown:192.0.2.9', 60_000)).toBe(1);
    expect(await store.incr('unknown:192.0.2.9', 60_000)).toBe(2);
    expect(await store.claim('c', 'me', 60_000)).toBe(true);
    const down = await log.waitFor('state', (e) => !e.ok);
    expect(down).toMatchObject({ event: 'state', ok: false, type: 'redis', reason: 'state-unreachable' });
    expect(store.degraded()).toBe(true);
    expect(await metrics.registry.getSingleMetricAsString('catchall_guard_state_degraded')).toMatch(
      /catchall_guard_state_degraded 1/,
    );
    // more operations and pings during the outage: still one event
    await new Promise((r) => setTimeout(r, 300));
    await store.count('unknown:192.0.2.9');
    expect(log.of('state').filter((e) => !e.ok)).toHaveLength(1);

    await redis.restart();
    const up = await log.waitFor('state', (e) => e.ok, 5_000);
    expect(up).toMatchObject({ event: 'state', ok: true, type: 'redis' });
    expect(store.degraded()).toBe(false);
    expect(await metrics.registry.getSingleMetricAsString('catchall_guard_state_degraded')).toMatch(
      /catchall_guard_state_degraded 0/,
    );
    // shared again: another client of the same Redis sees what this one writes
    const other = createRedisStore({ url: redis.url, prefix: 'fb:', timeoutMs: 500 });
    await other.ready();
    await store.incr('after', 60_000);
    expect(await other.count('after')).toBe(1);
    await other.close();
    metrics.stop();
  });

  it('Redis paused (slower than state.timeout): the operation is answered locally within the timeout', async () => {
    redis = await startRedis();
    const { store, log } = fallbackOn(redis, 300);
    await store.start();
    await store.incr('x', 60_000);
    redis.pause();
    const t0 = Date.now();
    expect(await store.incr('x', 60_000)).toBe(1);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1_000);
    expect(log.of('state')[0]).toMatchObject({ ok: false, reason: 'state-timeout' });
    // once degraded, nothing waits for Redis any more
    const t1 = Date.now();
    await store.incr('x', 60_000);
    expect(Date.now() - t1).toBeLessThan(50);
    redis.resume();
    await log.waitFor('state', (e) => e.ok, 5_000);
    // shared again; the increment that timed out still reached Redis and was carried out on resume:
    // a timeout means "outcome unknown", which is why the fallback never retries it
    expect(await store.count('x')).toBe(2);
  });

  it('Redis unreachable at start: start() returns within the timeout, mail state is local, ok:false logged', async () => {
    redis = await startRedis();
    await redis.stop();
    const { store, log } = fallbackOn(redis, 300);
    const t0 = Date.now();
    await store.start();
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(log.of('state')[0]).toMatchObject({ ok: false, reason: 'state-unreachable' });
    expect(await store.setShare('conn:192.0.2.1', 'me', 2, 60_000)).toBe(2);
    await redis.restart();
    await log.waitFor('state', (e) => e.ok, 5_000);
    expect(await store.setShare('conn:192.0.2.1', 'me', 3, 60_000)).toBe(3);
  });
});
