// quarantine.maxSize across workers (#13): a worker's replacement keeps its number, and with it the
// name it is known by in the state store. Its quarantine-usage share must not overwrite the share of
// the worker it replaces: the bytes that one committed in its last window are still missing from the
// other workers' older counts, and without that share they would judge the quarantine emptier than it is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createQuarantineUsage } from '../../src/quarantine/usage.js';
import { createMemoryStore } from '../../src/state/memory.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('a replacement worker (same holder) does not wipe what the dead one wrote from the others’ view', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-usage-replaced-'));
  dirs.push(dir);
  let clock = 0;
  const now = (): number => clock;
  const state = createMemoryStore({ now });
  const opts = { refreshMs: 60_000, now, state };
  const worker1 = createQuarantineUsage(dir, { ...opts, holder: 'host/1' });
  const worker2 = createQuarantineUsage(dir, { ...opts, holder: 'host/2' });
  await Promise.all([worker1.refresh(), worker2.refresh()]);
  clock = 1_000;
  // worker 1 commits an entry, then dies (kill -9): its memory is gone, its share stays in the store
  writeFileSync(path.join(dir, 'e1.eml'), Buffer.alloc(1000));
  worker1.add(1000);
  expect(await worker2.bytes()).toBe(1000);
  clock = 2_000;
  // its replacement counts the directory at start and answers its first RCPT
  const replacement = createQuarantineUsage(dir, { ...opts, holder: 'host/1' });
  await replacement.refresh();
  // e1 in its count and in the dead worker's share: fuller than it is for a window, never emptier
  expect(await replacement.bytes()).toBeGreaterThanOrEqual(1000);
  clock = 3_000;
  // worker 2's count (from 0 s) does not hold e1 yet: the dead worker's share still must
  expect(await worker2.bytes()).toBe(1000);
});
