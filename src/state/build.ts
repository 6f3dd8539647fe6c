// The state store the configuration asks for (SPEC §3 `state`): this process's memory, or Redis behind
// the fallback to memory. Read once at start: a change of `state` needs a restart.
import type { Config } from '../config/load.js';
import type { EventSink } from '../observability/events.js';
import { createFallbackStore } from './fallback.js';
import { createMemoryStore } from './memory.js';
import { createRedisStore } from './redis.js';
import type { StateStore } from './store.js';

export interface BuiltStateStore {
  readonly store: StateStore;
  /** Waits at most `state.timeout` for Redis; never fails (an outage is a `state` event). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function buildStateStore(config: Config['state'], events: EventSink): BuiltStateStore {
  if (config.type === 'redis' && config.url) {
    const store = createFallbackStore(
      createRedisStore({ url: config.url, prefix: config.prefix, timeoutMs: config.timeout }),
      { events },
    );
    return { store, start: () => store.start(), close: () => store.close() };
  }
  const store = createMemoryStore();
  return { store, start: async () => undefined, close: () => store.close() };
}
