// The k most frequent keys of a stream in constant memory (Metwally et al., "Space-Saving", 2005):
// exact while at most k distinct keys have been seen, otherwise an upper bound on each count.

export interface TopK {
  add(key: string): void;
  /** Most frequent first; ties by key. */
  top(n: number): Array<{ readonly key: string; readonly count: number }>;
  /** True once a key had to be evicted, so the counts are estimates. */
  readonly approximate: boolean;
}

export function createTopK(capacity: number, seed?: { readonly key: string; readonly count: number }): TopK {
  const counts = new Map<string, number>();
  // keys grouped by count, so the key to evict (one of the smallest count) is found without a scan:
  // with 1000 counters and a stream of distinct sender domains, a scan per newcomer dominated `report`
  const byCount = new Map<number, Set<string>>();
  let min = 0;
  let approximate = false;
  const place = (key: string, count: number): void => {
    let bucket = byCount.get(count);
    if (!bucket) byCount.set(count, (bucket = new Set()));
    bucket.add(key);
  };
  const unplace = (key: string, count: number): void => {
    const bucket = byCount.get(count);
    bucket?.delete(key);
    if (bucket?.size === 0) byCount.delete(count);
  };
  const set = (key: string, count: number): void => {
    counts.set(key, count);
    place(key, count);
  };
  if (seed && capacity > 0) {
    set(seed.key, seed.count);
    min = seed.count;
  }
  return {
    add(key) {
      const current = counts.get(key);
      if (current !== undefined) {
        unplace(key, current);
        set(key, current + 1);
        if (current === min && !byCount.has(current)) min = current + 1;
        return;
      }
      if (counts.size < capacity) {
        set(key, 1);
        min = 1;
        return;
      }
      // the newcomer inherits the smallest counter: it may have been seen that often before
      const victim = byCount.get(min)?.values().next().value;
      if (victim === undefined) return; // capacity 0: nothing is counted
      unplace(victim, min);
      counts.delete(victim);
      set(key, min + 1);
      if (!byCount.has(min)) min += 1;
      approximate = true;
    },
    top(n) {
      return [...counts]
        .map(([key, count]) => ({ key, count }))
        .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .slice(0, n);
    },
    get approximate() {
      return approximate;
    },
  };
}
