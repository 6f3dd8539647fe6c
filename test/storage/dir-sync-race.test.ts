// dir-sync.ts keeps one state per directory while syncs are in the air and forgets it when the last
// one ends. A sync that ends late (it was started by a caller that came in the turn between one sync's
// end and the next one's start) must not forget the state a later caller made: that caller's sync
// would no longer be shared, and a third sync of the same directory would run beside it.
import { expect, it } from 'vitest';
import { coalescedDirSync } from '../../src/storage/dir-sync.js';

function controlledSync() {
  const calls: Array<{ dir: string; end: () => void; ended: boolean }> = [];
  const syncOnce = (dir: string): Promise<void> =>
    new Promise<void>((resolve) => {
      const call = { dir, ended: false, end: () => ((call.ended = true), resolve()) };
      calls.push(call);
    });
  return { calls, syncOnce };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

it('a late sync of a forgotten state leaves the current one alone: callers keep sharing, never a third sync', async () => {
  const { calls, syncOnce } = controlledSync();
  const sync = coalescedDirSync(syncOnce);
  const a = sync('/q');
  void sync('/q'); // waits for the next sync
  // a caller in the turn between the first sync's end and the next one's start starts one of its own
  void a.then(() => void sync('/q'));
  calls[0]?.end();
  await turn();
  expect(calls).toHaveLength(3); // the in-between caller's and the shared next one
  calls[2]?.end(); // the shared one ends first: the state is forgotten, as nothing waits
  await turn();
  void sync('/q'); // a new state, its sync running
  expect(calls).toHaveLength(4);
  calls[1]?.end(); // the in-between sync ends late
  await turn();
  // these arrive while the fourth sync runs: they share one sync after it, none starts beside it
  for (let i = 0; i < 3; i++) void sync('/q');
  await turn();
  const running = calls.filter((c) => !c.ended);
  expect(running).toHaveLength(1);
  expect(calls).toHaveLength(4);
});
