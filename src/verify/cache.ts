// What the upstream said of an address, kept for `verify.positiveTtl` ("exists") or `negativeTtl`
// ("no such user"), in the state store: with Redis, one MX host's probe answers for all of them. Bounded:
// the memory store forgets the least recently used first under a flood of distinct addresses, which
// only costs a probe again. "Cannot tell" (4xx, timeout) is never kept.
import { createMemoryStore } from '../state/memory.js';
import { stateKeys, type StateStore } from '../state/store.js';

export type CachedAnswer = 'exists' | 'no-such-user';

export interface VerifyCache {
  get(address: string): Promise<CachedAnswer | undefined>;
  set(address: string, answer: CachedAnswer, ttlMs: number): Promise<void>;
}

export const VERIFY_CACHE_ENTRIES = 100_000;

const isAnswer = (v: string | null): v is CachedAnswer => v === 'exists' || v === 'no-such-user';

/** On `store`, or on a memory store of its own holding at most `max` answers. */
export function createVerifyCache(opts: { readonly store?: StateStore; readonly max?: number } = {}): VerifyCache {
  const store = opts.store ?? createMemoryStore({ maxKeys: opts.max ?? VERIFY_CACHE_ENTRIES });
  return {
    async get(address) {
      const v = await store.get(stateKeys.verify(address));
      return isAnswer(v) ? v : undefined;
    },
    set: (address, answer, ttlMs) => store.set(stateKeys.verify(address), answer, ttlMs),
  };
}
