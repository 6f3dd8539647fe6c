// The k most frequent keys of a stream in constant memory (Metwally et al., "Space-Saving", 2005):
// exact while at most k distinct keys have been seen, otherwise an upper bound on each count.

export interface TopK {
  add(key: string): void;
  /** Most frequent first; ties by key. */
  top(n: number): Array<{ readonly key: string; readonly count: number }>;
  /** True once a key had to be evicted, so the counts are estimates. */
  readonly approximate: boolean;
}

export function createTopK(capacity: number): TopK {
  const counts = new Map<string, number>();
  let approximate = false;
  return {
    add(key) {
      const current = counts.get(key);
      if (current !== undefined) {
        counts.set(key, current + 1);
        return;
      }
      if (counts.size < capacity) {
        counts.set(key, 1);
        return;
      }
      // the newcomer inherits the smallest counter: it may have been seen that often before
      let minKey = '';
      let min = Infinity;
      for (const [k, c] of counts) {
        if (c < min) {
          min = c;
          minKey = k;
        }
      }
      counts.delete(minKey);
      counts.set(key, min + 1);
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
