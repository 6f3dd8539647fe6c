// One table of expectations, run against every state store: the memory store and a real redis-server.
// What one implementation does, the other must do too, or limits would change with `state.type`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/state/memory.js';
import { createRedisStore } from '../../src/state/redis.js';
import type { StateStore } from '../../src/state/store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const T0 = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

let redis: RedisServer;
const opened: StateStore[] = [];
let seq = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await redis?.stop();
});

/** A fresh store per test: a prefix of its own keeps the tests apart on the one redis-server. */
const kinds: readonly [string, () => Promise<StateStore>][] = [
  ['memory', async () => createMemoryStore()],
  [
    'redis',
    async () => {
      const s = createRedisStore({ url: redis.url, prefix: `t${++seq}:`, timeoutMs: 2_000 });
      await s.ready();
      opened.push(s);
      return s;
    },
  ],
];

describe.each(kinds)('state store contract: %s', (_kind, make) => {
  it('incr counts up from 1; an absent counter is 0', async () => {
    const s = await make();
    expect(await s.count('c')).toBe(0);
    expect(await s.incr('c', 10_000)).toBe(1);
    expect(await s.incr('c', 10_000)).toBe(2);
    expect(await s.incr('c', 10_000)).toBe(3);
    expect(await s.count('c')).toBe(3);
    expect(await s.count('other')).toBe(0);
  });

  it('a counter is a fixed window: it expires ttl after its first increment, later ones do not extend it', async () => {
    const s = await make();
    await s.incr('w', 300);
    await sleep(150);
    expect(await s.incr('w', 300)).toBe(2);
    await sleep(250);
    expect(await s.count('w')).toBe(0);
    expect(await s.incr('w', 300)).toBe(1);
  });

  it('set and get a value; it expires', async () => {
    const s = await make();
    expect(await s.get('v')).toBeNull();
    await s.set('v', 'exists', 200);
    expect(await s.get('v')).toBe('exists');
    await s.set('v', 'no-such-user', 200);
    expect(await s.get('v')).toBe('no-such-user');
    await sleep(300);
    expect(await s.get('v')).toBeNull();
  });

  it('claim: the first holder gets it, others do not, only the holder releases it, and it expires', async () => {
    const s = await make();
    expect(await s.claim('k', 'A', 10_000)).toBe(true);
    expect(await s.claim('k', 'B', 10_000)).toBe(false);
    expect(await s.get('k')).toBe('A');
    await s.release('k', 'B');
    expect(await s.get('k')).toBe('A');
    await s.release('k', 'A');
    expect(await s.get('k')).toBeNull();
    expect(await s.claim('k', 'B', 200)).toBe(true);
    await sleep(300);
    expect(await s.claim('k', 'C', 10_000)).toBe(true);
  });

  it('shares: the total of every holder, set absolutely, 0 removes a share', async () => {
    const s = await make();
    expect(await s.sumShares('conn')).toBe(0);
    expect(await s.setShare('conn', 'A', 2, 10_000)).toBe(2);
    expect(await s.setShare('conn', 'B', 3, 10_000)).toBe(5);
    expect(await s.setShare('conn', 'A', 1, 10_000)).toBe(4);
    expect(await s.setShare('conn', 'A', 0, 10_000)).toBe(3);
    expect(await s.sumShares('conn')).toBe(3);
    expect(await s.setShare('conn', 'B', 0, 10_000)).toBe(0);
  });

  it('shares: a holder that stops writing (it crashed) drops out when its share expires', async () => {
    const s = await make();
    await s.setShare('conn', 'crashed', 5, 200);
    expect(await s.setShare('conn', 'alive', 1, 10_000)).toBe(6);
    await sleep(300);
    expect(await s.sumShares('conn')).toBe(1);
  });

  it('window: at most `limit` events; the same member once; the oldest is reported', async () => {
    const s = await make();
    const o = { nowMs: T0 + 30 * MIN, windowMs: HOUR, limit: 2 };
    expect(await s.windowAdd('h', 'q1', T0, o)).toEqual({ added: true, count: 1, oldestMs: T0 });
    expect(await s.windowAdd('h', 'q1', T0, o)).toEqual({ added: false, count: 1, oldestMs: T0 });
    expect(await s.windowAdd('h', 'q2', T0 + 10 * MIN, o)).toEqual({ added: true, count: 2, oldestMs: T0 });
    expect(await s.windowAdd('h', 'q3', T0 + 30 * MIN, o)).toEqual({ added: false, count: 2, oldestMs: T0 });
    expect(await s.windowView('h', T0 + 30 * MIN, HOUR)).toEqual({ count: 2, oldestMs: T0 });
  });

  it('window: events leave it an hour after they happened; one already outside is not added', async () => {
    const s = await make();
    const at = (nowMs: number): { nowMs: number; windowMs: number; limit: number } => ({
      nowMs,
      windowMs: HOUR,
      limit: 0,
    });
    await s.windowAdd('h', 'q1', T0, at(T0));
    await s.windowAdd('h', 'q2', T0 + 30 * MIN, at(T0 + 30 * MIN));
    expect(await s.windowView('h', T0 + 59 * MIN, HOUR)).toEqual({ count: 2, oldestMs: T0 });
    expect(await s.windowView('h', T0 + 61 * MIN, HOUR)).toEqual({ count: 1, oldestMs: T0 + 30 * MIN });
    expect(await s.windowAdd('h', 'old', T0 - 2 * HOUR, at(T0 + 61 * MIN))).toEqual({
      added: false,
      count: 1,
      oldestMs: T0 + 30 * MIN,
    });
    expect(await s.windowView('h', T0 + 91 * MIN, HOUR)).toEqual({ count: 0, oldestMs: null });
  });

  it('window: limit 0 is no limit', async () => {
    const s = await make();
    for (let i = 0; i < 5; i++) {
      const r = await s.windowAdd('h', `q${i}`, T0 + i, { nowMs: T0 + 10, windowMs: HOUR, limit: 0 });
      expect(r.added).toBe(true);
      expect(r.count).toBe(i + 1);
    }
  });
});

describe('redis store', () => {
  it('keeps deployments with different prefixes apart on one Redis', async () => {
    const a = createRedisStore({ url: redis.url, prefix: 'deploy-a:', timeoutMs: 2_000 });
    const b = createRedisStore({ url: redis.url, prefix: 'deploy-b:', timeoutMs: 2_000 });
    opened.push(a, b);
    await Promise.all([a.ready(), b.ready()]);
    await a.incr('unknown:192.0.2.1', 10_000);
    await a.incr('unknown:192.0.2.1', 10_000);
    expect(await a.count('unknown:192.0.2.1')).toBe(2);
    expect(await b.count('unknown:192.0.2.1')).toBe(0);
  });

  it('two clients of one Redis share one counter (two MX hosts)', async () => {
    const a = createRedisStore({ url: redis.url, prefix: 'shared:', timeoutMs: 2_000 });
    const b = createRedisStore({ url: redis.url, prefix: 'shared:', timeoutMs: 2_000 });
    opened.push(a, b);
    await Promise.all([a.ready(), b.ready()]);
    const results = await Promise.all(Array.from({ length: 20 }, (_v, i) => (i % 2 ? a : b).incr('n', 10_000)));
    // atomic: twenty increments from two clients give twenty distinct values
    expect(new Set(results).size).toBe(20);
    expect(await b.count('n')).toBe(20);
    expect(await a.claim('c', 'host-a', 10_000)).toBe(true);
    expect(await b.claim('c', 'host-b', 10_000)).toBe(false);
  });
});

describe('memory store', () => {
  it('is bounded: past maxKeys the least recently used key is forgotten', async () => {
    const s = createMemoryStore({ maxKeys: 2 });
    await s.incr('a', HOUR);
    await s.incr('b', HOUR);
    await s.incr('c', HOUR);
    expect(await s.count('a')).toBe(0);
    expect(await s.count('c')).toBe(1);
  });

  it('follows the clock it is given', async () => {
    let now = T0;
    const s = createMemoryStore({ now: () => now });
    await s.incr('a', HOUR);
    now += HOUR - 1;
    expect(await s.count('a')).toBe(1);
    now += 1;
    expect(await s.count('a')).toBe(0);
  });

  it('a window keeps at most maxWindowEvents, forgetting the oldest', async () => {
    const s = createMemoryStore({ maxWindowEvents: 3 });
    for (let i = 0; i < 5; i++) await s.windowAdd('h', `q${i}`, T0 + i, { nowMs: T0 + 10, windowMs: HOUR, limit: 0 });
    expect(await s.windowView('h', T0 + 10, HOUR)).toEqual({ count: 3, oldestMs: T0 + 2 });
  });
});
