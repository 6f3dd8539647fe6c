// The shared state store of several MX hosts: Redis 7 or Valkey through ioredis (SPEC §3 `state.type:
// redis`). The only module that knows ioredis. Where two steps must be one (an increment and its expiry,
// a window's trim, check and add), they are one Lua script; claims are `SET key value NX PX ttl`.
//
// Fails fast, never queues: with the connection down a command is refused at once, and an answer
// slower than `state.timeout` is given up. Either is a StateUnavailable the fallback (fallback.ts)
// turns into a local answer, so no SMTP reply ever waits longer than `state.timeout` on Redis.
import { Redis } from 'ioredis';
import type { StateFailure, StateStore, WindowAdd, WindowView } from './store.js';

export interface RedisStoreOptions {
  readonly url: string;
  /** Put before every key (`state.prefix`), so several deployments can share one Redis. */
  readonly prefix: string;
  /** One operation's budget (`state.timeout`). */
  readonly timeoutMs: number;
  /** Events one window keeps at most (the notices of the last hour), whatever its limit. */
  readonly maxWindowEvents?: number;
}

/** A store whose health can be asked: the fallback pings it to learn when it is back. */
export interface RemoteStateStore extends StateStore {
  ping(): Promise<void>;
  /** Resolves once connected (or rejects with a StateUnavailable after `timeoutMs`). */
  ready(): Promise<void>;
}

/** A Redis operation that did not happen, or whose outcome is unknown. */
export class StateUnavailable extends Error {
  constructor(
    readonly reason: StateFailure,
    message: string,
  ) {
    super(message);
    this.name = 'StateUnavailable';
  }
}

// the first increment sets the window; a key that somehow lost its expiry gets one back
const INCR = `
local v = redis.call('INCR', KEYS[1])
if v == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

// shares are "value:expiresAtMs" fields by holder, judged by the server's clock; expired fields are
// removed as they are met, and the hash itself expires with its longest-lived share
const SHARES = `
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'set' then
  if tonumber(ARGV[3]) == 0 then
    redis.call('HDEL', KEYS[1], ARGV[2])
  else
    redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ':' .. tostring(nowMs + tonumber(ARGV[4])))
  end
end
local all = redis.call('HGETALL', KEYS[1])
local total = 0
local last = 0
for i = 1, #all, 2 do
  local v, e = string.match(all[i + 1], '^(%-?%d+):(%d+)$')
  local exp = tonumber(e)
  if exp and exp > nowMs then
    total = total + tonumber(v)
    if exp > last then last = exp end
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
if last > 0 then redis.call('PEXPIREAT', KEYS[1], last) end
return total`;

// ARGV: mode ('add'|'view'), member, atMs, nowMs, windowMs, limit, maxEvents
const WINDOW = `
local nowMs = tonumber(ARGV[4])
local windowMs = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs - windowMs)
local count = redis.call('ZCOUNT', KEYS[1], '-inf', nowMs)
local added = 0
if ARGV[1] == 'add' then
  local at = tonumber(ARGV[3])
  local limit = tonumber(ARGV[6])
  local known = redis.call('ZSCORE', KEYS[1], ARGV[2])
  if not known and (limit <= 0 or count < limit) and nowMs - at < windowMs then
    redis.call('ZADD', KEYS[1], at, ARGV[2])
    added = 1
    if at <= nowMs then count = count + 1 end
    local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[7])
    if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1) end
  end
  redis.call('PEXPIRE', KEYS[1], windowMs)
end
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs, 'WITHSCORES', 'LIMIT', 0, 1)
local oldestMs = -1
if #oldest == 2 then oldestMs = tonumber(oldest[2]) end
return {added, count, oldestMs}`;

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** What ioredis threw, as the reason the `state` event names. */
export function failureOf(err: unknown): StateFailure {
  const message = err instanceof Error ? err.message : String(err);
  return /timed out|timeout/i.test(message) ? 'state-timeout' : 'state-unreachable';
}

export function createRedisStore(opts: RedisStoreOptions): RemoteStateStore {
  const redis = new Redis(opts.url, {
    keyPrefix: opts.prefix,
    commandTimeout: opts.timeoutMs,
    connectTimeout: opts.timeoutMs,
    // nothing waits for a connection that is not there: the fallback answers instead
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // reconnect every second, for ever: Redis coming back is noticed without a restart
    retryStrategy: () => 1_000,
    lazyConnect: false,
  });
  // ioredis reports a lost connection as an 'error' event; the fallback logs the outage once instead
  redis.on('error', () => undefined);
  const maxWindowEvents = opts.maxWindowEvents ?? 100_000;

  redis.defineCommand('cgIncr', { numberOfKeys: 1, lua: INCR });
  redis.defineCommand('cgRelease', { numberOfKeys: 1, lua: RELEASE });
  redis.defineCommand('cgShares', { numberOfKeys: 1, lua: SHARES });
  redis.defineCommand('cgWindow', { numberOfKeys: 1, lua: WINDOW });
  const scripts = redis as unknown as Record<'cgIncr' | 'cgRelease' | 'cgShares' | 'cgWindow', ScriptCall>;

  async function run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new StateUnavailable(failureOf(err), err instanceof Error ? err.message : String(err));
    }
  }

  async function windowCall(args: (string | number)[]): Promise<{ added: boolean } & WindowView> {
    const [added, count, oldest] = (await scripts.cgWindow(...args)) as [number, number, number];
    return { added: added === 1, count, oldestMs: oldest < 0 ? null : oldest };
  }

  const ttl = (ms: number): number => Math.max(1, Math.ceil(ms));

  return {
    incr: (key, ttlMs) => run(async () => Number(await scripts.cgIncr(key, ttl(ttlMs)))),
    count: (key) => run(async () => Number((await redis.get(key)) ?? 0) || 0),
    get: (key) => run(() => redis.get(key)),
    set: (key, value, ttlMs) =>
      run(async () => {
        await redis.set(key, value, 'PX', ttl(ttlMs));
      }),
    claim: (key, value, ttlMs) => run(async () => (await redis.set(key, value, 'PX', ttl(ttlMs), 'NX')) === 'OK'),
    release: (key, value) =>
      run(async () => {
        await scripts.cgRelease(key, value);
      }),
    setShare: (key, holder, value, ttlMs) =>
      run(async () => Number(await scripts.cgShares(key, 'set', holder, Math.max(0, Math.floor(value)), ttl(ttlMs)))),
    sumShares: (key) => run(async () => Number(await scripts.cgShares(key, 'sum', '', 0, 0))),
    windowAdd: (key, member, atMs, { nowMs, windowMs, limit }) =>
      run(async (): Promise<WindowAdd> =>
        windowCall([key, 'add', member, atMs, nowMs, windowMs, limit, maxWindowEvents]),
      ),
    windowView: (key, nowMs, windowMs) =>
      run(async (): Promise<WindowView> => {
        const { count, oldestMs } = await windowCall([key, 'view', '', 0, nowMs, windowMs, 0, maxWindowEvents]);
        return { count, oldestMs };
      }),
    ping: () =>
      run(async () => {
        await redis.ping();
      }),
    ready: () =>
      run(
        () =>
          new Promise<void>((resolve, reject) => {
            if (redis.status === 'ready') return resolve();
            const timer = setTimeout(() => {
              cleanup();
              reject(new Error(`no connection within ${opts.timeoutMs} ms`));
            }, opts.timeoutMs);
            timer.unref();
            const onReady = (): void => {
              cleanup();
              resolve();
            };
            const cleanup = (): void => {
              clearTimeout(timer);
              redis.off('ready', onReady);
            };
            redis.on('ready', onReady);
          }),
      ),
    close: async () => {
      redis.disconnect(false);
    },
  };
}
