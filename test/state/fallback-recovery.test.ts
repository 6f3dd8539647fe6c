// Redis back → shared again, and right: the shares (per-IP connection counts) this instance changed
// while Redis was away are in Redis as soon as the store is marked up, without waiting for each
// client's next connect or close. Those that ended meanwhile are gone from Redis, a write racing with
// the replay is never overwritten by an older value, and a replay Redis does not take leaves the store
// down. A real redis-server throughout; Redis is read back through a second client.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createFallbackStore, type FallbackStore } from '../../src/state/fallback.js';
import { createRedisStore, type RemoteStateStore } from '../../src/state/redis.js';
import { captureEvents } from '../helpers/log-capture.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const PREFIX = 'fr:';
const ME = 'mx-a';
const MIN = 60_000;

let redis: RedisServer | null = null;
const cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  await redis?.stop();
  redis = null;
});

interface Setup {
  readonly store: FallbackStore;
  readonly log: ReturnType<typeof captureEvents>;
  /** Another instance's client of the same Redis: what every other host sees. */
  readonly other: RemoteStateStore;
}

/**
 * A fallback store on `server`. `onRemoteShare` sees each share write as it is handed to the real
 * Redis store, so a test can act at an exact point of the replay.
 */
async function setup(
  server: RedisServer,
  onRemoteShare: (key: string, value: number) => void = () => undefined,
): Promise<Setup> {
  const log = captureEvents();
  const real = createRedisStore({ url: server.url, prefix: PREFIX, timeoutMs: 300 });
  const watched: RemoteStateStore = {
    ...real,
    setShare: (key, holder, value, ttlMs) => {
      onRemoteShare(key, value);
      return real.setShare(key, holder, value, ttlMs);
    },
  };
  const store = createFallbackStore(watched, { events: log.sink, pingMs: 100 });
  cleanup.push(() => store.close());
  const other = createRedisStore({ url: server.url, prefix: PREFIX, timeoutMs: 2_000 });
  cleanup.push(() => other.close());
  await store.start();
  await other.ready();
  expect(store.degraded()).toBe(false);
  return { store, log, other };
}

/** Each key's total as Redis holds it, read by the other instance. */
async function inRedis(other: RemoteStateStore, keys: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = await other.sumShares(k);
  return out;
}

/** Degrades the store with Redis paused (SIGSTOP: Redis keeps what it holds). */
async function pauseUntilDegraded(server: RedisServer, s: Setup): Promise<void> {
  server.pause();
  cleanup.push(() => server.resume());
  // the first operation waits state.timeout, then everything is local
  await s.store.sumShares('conn:198.51.100.99');
  await s.log.waitFor('state', (e) => !e.ok);
  expect(s.store.degraded()).toBe(true);
}

describe('state store fallback: shares on Redis’s return', () => {
  it('Redis paused: a raised share, a share dropped to 0 and a new one are all right in Redis when it is marked up', async () => {
    redis = await startRedis();
    const s = await setup(redis);
    await s.store.setShare('conn:192.0.2.1', ME, 2, MIN);
    await s.store.setShare('conn:192.0.2.2', ME, 5, MIN);
    await s.store.setShare('conn:192.0.2.3', ME, 1, MIN);
    // another host's share of one of them is left as it is
    await s.other.setShare('conn:192.0.2.2', 'mx-b', 1, MIN);
    const keys = ['conn:192.0.2.1', 'conn:192.0.2.2', 'conn:192.0.2.3', 'conn:192.0.2.4'];
    expect(await inRedis(s.other, keys)).toEqual({
      'conn:192.0.2.1': 2,
      'conn:192.0.2.2': 6,
      'conn:192.0.2.3': 1,
      'conn:192.0.2.4': 0,
    });

    await pauseUntilDegraded(redis, s);
    expect(await s.store.setShare('conn:192.0.2.1', ME, 4, MIN)).toBe(4);
    expect(await s.store.setShare('conn:192.0.2.2', ME, 0, MIN)).toBe(0);
    expect(await s.store.setShare('conn:192.0.2.4', ME, 3, MIN)).toBe(3);

    redis.resume();
    await s.log.waitFor('state', (e) => e.ok, 5_000);
    expect(s.store.degraded()).toBe(false);
    // no connect or close since: Redis holds this instance's counts of now, next to mx-b's
    expect(await inRedis(s.other, keys)).toEqual({
      'conn:192.0.2.1': 4,
      'conn:192.0.2.2': 1,
      'conn:192.0.2.3': 1,
      'conn:192.0.2.4': 3,
    });
    for (const k of keys) expect(await s.store.sumShares(k)).toBe((await inRedis(s.other, [k]))[k]);
    expect(s.log.of('state').map((e) => e.ok)).toEqual([false, true]);
  });

  it('Redis restarted empty: every live share is back, with the lifetime it had left; one that expired meanwhile is not', async () => {
    redis = await startRedis();
    const s = await setup(redis);
    const t0 = Date.now();
    await s.store.setShare('conn:192.0.2.10', ME, 2, MIN);
    const t1 = Date.now();
    await s.store.setShare('conn:192.0.2.11', ME, 1, 400);
    await redis.stop();
    // found away by this write: it is kept here
    await s.store.setShare('conn:192.0.2.12', ME, 3, MIN);
    await s.log.waitFor('state', (e) => !e.ok);
    await new Promise((r) => setTimeout(r, 500));

    await redis.restart();
    await s.log.waitFor('state', (e) => e.ok, 5_000);
    expect(await inRedis(s.other, ['conn:192.0.2.10', 'conn:192.0.2.11', 'conn:192.0.2.12'])).toEqual({
      'conn:192.0.2.10': 2,
      'conn:192.0.2.11': 0,
      'conn:192.0.2.12': 3,
    });
    // the replayed share ends when it would have: its remaining ttl, not a fresh one
    const raw = new Redis(redis.url);
    cleanup.push(() => raw.disconnect());
    const field = await raw.hget(`${PREFIX}conn:192.0.2.10`, ME);
    const expiresAt = Number(/^2:(\d+)$/.exec(field ?? '')?.[1]);
    // (a fresh one, given at the replay, would end 500 ms and more after t1 + MIN)
    expect(expiresAt).toBeGreaterThanOrEqual(t0 + MIN - 50);
    expect(expiresAt).toBeLessThanOrEqual(t1 + MIN + 50);
  });

  it('a share written while the replay is under way is never overwritten by the older value', async () => {
    redis = await startRedis();
    let s: Setup | null = null;
    let armed = false;
    let racing = false;
    const racer = (key: string): void => {
      // the first replayed write of 192.0.2.20 is on its way: this instance's count changes now
      if (armed && !racing && key === 'conn:192.0.2.20') {
        racing = true;
        void s?.store.setShare('conn:192.0.2.21', ME, 7, MIN);
        void s?.store.setShare('conn:192.0.2.20', ME, 0, MIN);
      }
    };
    s = await setup(redis, racer);
    const { store, log, other } = s;
    await store.setShare('conn:192.0.2.20', ME, 1, MIN);
    await pauseUntilDegraded(redis, s);
    await store.setShare('conn:192.0.2.20', ME, 2, MIN);
    await store.setShare('conn:192.0.2.21', ME, 3, MIN);
    // and one more written just as the store is marked up, from the ok:true event itself
    const unsubscribe = log.sink.subscribe((e) => {
      if (e.event === 'state' && e.ok) void store.setShare('conn:192.0.2.22', ME, 5, MIN);
    });
    cleanup.push(unsubscribe);

    armed = true;
    redis.resume();
    await log.waitFor('state', (e) => e.ok, 5_000);
    expect(racing).toBe(true);
    // asked through the recovered store first: same connection, so behind every write it sent
    expect(await store.sumShares('conn:192.0.2.22')).toBe(5);
    expect(await inRedis(other, ['conn:192.0.2.20', 'conn:192.0.2.21', 'conn:192.0.2.22'])).toEqual({
      'conn:192.0.2.20': 0,
      'conn:192.0.2.21': 7,
      'conn:192.0.2.22': 5,
    });
  });

  it('Redis gone again during the replay: the store stays down, no ok:true; on the next return the shares are right', async () => {
    redis = await startRedis();
    const server = redis;
    let armed = false;
    let again = false;
    const s = await setup(server, () => {
      // the replay's first write: Redis stops answering before it is read
      if (armed && !again) {
        again = true;
        server.pause();
      }
    });
    const { store, log, other } = s;
    await store.setShare('conn:192.0.2.30', ME, 4, MIN);
    await pauseUntilDegraded(server, s);
    await store.setShare('conn:192.0.2.30', ME, 0, MIN);
    await store.setShare('conn:192.0.2.31', ME, 2, MIN);

    armed = true;
    server.resume();
    const deadline = Date.now() + 5_000;
    while (!again && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(again).toBe(true);
    // the replay times out (state.timeout 300 ms) and the pings with it: still down, still local
    await new Promise((r) => setTimeout(r, 800));
    expect(store.degraded()).toBe(true);
    expect(log.of('state').map((e) => e.ok)).toEqual([false]);
    expect(await store.sumShares('conn:192.0.2.31')).toBe(2);
    // a change while it is still away is replayed with the rest
    await store.setShare('conn:192.0.2.32', ME, 1, MIN);

    server.resume();
    await log.waitFor('state', (e) => e.ok, 5_000);
    expect(log.of('state').map((e) => e.ok)).toEqual([false, true]);
    expect(await inRedis(other, ['conn:192.0.2.30', 'conn:192.0.2.31', 'conn:192.0.2.32'])).toEqual({
      'conn:192.0.2.30': 0,
      'conn:192.0.2.31': 2,
      'conn:192.0.2.32': 1,
    });
  });
});
