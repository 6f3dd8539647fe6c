// Which waiting notices the outbox starts next. A burst can leave thousands waiting while at most a
// handful run, so the outbox picks the few earliest in one pass instead of sorting every waiting
// entry each time one attempt finishes (that sort was 7 % of the CPU of a 2 KB quarantine burst).

/** The at most `count` ids due by `nowMs` and not running, earliest first; ties keep insertion order. */
export function earliestDue<K>(
  due: ReadonlyMap<K, number>,
  running: { has(id: K): boolean },
  nowMs: number,
  count: number,
): K[] {
  if (count <= 0) return [];
  // a small sorted array: insertion is O(count) and count is the free concurrency (≤ 4)
  const picked: Array<[K, number]> = [];
  for (const [id, at] of due) {
    if (at > nowMs || running.has(id)) continue;
    if (picked.length === count && at >= (picked[count - 1] as [K, number])[1]) continue;
    let i = picked.length;
    while (i > 0 && (picked[i - 1] as [K, number])[1] > at) i--;
    picked.splice(i, 0, [id, at]);
    if (picked.length > count) picked.pop();
  }
  return picked.map(([id]) => id);
}
