import { describe, expect, it } from 'vitest';
import { coalescedDirSync } from '../../src/storage/dir-sync.js';

/** A syncOnce whose every call waits until the test ends it. */
function controlledSync() {
  const calls: Array<{ dir: string; end: (err?: Error) => void }> = [];
  const syncOnce = (dir: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      calls.push({ dir, end: (err) => (err ? reject(err) : resolve()) });
    });
  return { calls, syncOnce };
}

const settled = async (p: Promise<void>): Promise<string> => {
  let state = 'pending';
  p.then(
    () => (state = 'done'),
    (e: Error) => (state = `failed: ${e.message}`),
  );
  // a few turns of the microtask queue and one macrotask: enough for chained promises to settle
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('coalescedDirSync: one directory fsync serves every rename done before it started', () => {
  it('a lone caller gets one sync of its own', async () => {
    const { calls, syncOnce } = controlledSync();
    const sync = coalescedDirSync(syncOnce);
    const p = sync('/q');
    expect(calls.map((c) => c.dir)).toEqual(['/q']);
    calls[0]?.end();
    expect(await settled(p)).toBe('done');
  });

  it('callers arriving while a sync runs share the next one: 10 callers, 2 syncs', async () => {
    const { calls, syncOnce } = controlledSync();
    const sync = coalescedDirSync(syncOnce);
    const first = sync('/q');
    const later = Array.from({ length: 9 }, () => sync('/q'));
    expect(calls).toHaveLength(1);
    calls[0]?.end();
    expect(await settled(first)).toBe('done');
    // their renames may postdate the first sync's start: they are not done until the second sync is
    for (const p of later) expect(await settled(p)).toBe('pending');
    expect(calls).toHaveLength(2);
    calls[1]?.end();
    for (const p of later) expect(await settled(p)).toBe('done');
    expect(calls).toHaveLength(2);
  });

  it('a caller after everything settled starts a fresh sync', async () => {
    const { calls, syncOnce } = controlledSync();
    const sync = coalescedDirSync(syncOnce);
    const a = sync('/q');
    calls[0]?.end();
    await settled(a);
    const b = sync('/q');
    expect(calls).toHaveLength(2);
    calls[1]?.end();
    expect(await settled(b)).toBe('done');
  });

  it('a failed sync fails its own callers only; the waiting ones still get their sync', async () => {
    const { calls, syncOnce } = controlledSync();
    const sync = coalescedDirSync(syncOnce);
    const first = sync('/q');
    const waiting = sync('/q');
    calls[0]?.end(new Error('EIO'));
    expect(await settled(first)).toBe('failed: EIO');
    expect(calls).toHaveLength(2);
    calls[1]?.end();
    expect(await settled(waiting)).toBe('done');
  });

  it('every caller sharing a failed sync hears of the failure', async () => {
    const { calls, syncOnce } = controlledSync();
    const sync = coalescedDirSync(syncOnce);
    const first = sync('/q');
    const w1 = sync('/q');
    const w2 = sync('/q');
    calls[0]?.end();
    await settled(first);
    calls[1]?.end(new Error('ENOSPC'));
    expect(await settled(w1)).toBe('failed: ENOSPC');
    expect(await settled(w2)).toBe('failed: ENOSPC');
  });

  it('directories are independent', async () => {
    const { calls, syncOnce } = controlledSync();
    const sync = coalescedDirSync(syncOnce);
    const a = sync('/q');
    const b = sync('/mail/new');
    expect(calls.map((c) => c.dir)).toEqual(['/q', '/mail/new']);
    calls[1]?.end();
    expect(await settled(b)).toBe('done');
    expect(await settled(a)).toBe('pending');
    calls[0]?.end();
    expect(await settled(a)).toBe('done');
  });
});
