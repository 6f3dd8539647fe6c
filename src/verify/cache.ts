// What the upstream said of an address, kept for `verify.positiveTtl` ("exists") or `negativeTtl`
// ("no such user"). Bounded: under a flood of distinct addresses the least recently used go first,
// which only costs a probe again. "Cannot tell" (4xx, timeout) is never kept.
import { LRUCache } from 'lru-cache';

export type CachedAnswer = 'exists' | 'no-such-user';

export interface VerifyCache {
  get(address: string): CachedAnswer | undefined;
  set(address: string, answer: CachedAnswer, ttlMs: number): void;
  clear(): void;
}

export const VERIFY_CACHE_ENTRIES = 100_000;

export function createVerifyCache(opts: { readonly max?: number } = {}): VerifyCache {
  const cache = new LRUCache<string, CachedAnswer>({ max: opts.max ?? VERIFY_CACHE_ENTRIES, ttlAutopurge: false });
  return {
    get: (address) => cache.get(address.toLowerCase()),
    set: (address, answer, ttlMs) => {
      cache.set(address.toLowerCase(), answer, { ttl: ttlMs });
    },
    clear: () => cache.clear(),
  };
}
