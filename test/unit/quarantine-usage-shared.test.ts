// quarantine/usage across processes (#13): two usages on one state store and one directory, as two
// workers of a host (or two hosts on one volume and one Redis), with one clock the test moves. What
// one writes reaches the other's count at once, a recount never makes an entry vanish from the other's
// view, and a quiet writer's share expires on its own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createQuarantineUsage, createRecentBytes, shareWindowMs } from '../../src/quarantine/usage.js';
import { createMemoryStore } from '../../src/state/memory.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('recent bytes: what one process committed in the last window', () => {
  it.each([
    // [label, additions as [bytes, atMs], nowMs, total, ttl]
    ['nothing added', [], 5_000, 0, 0],
    ['one addition, just made', [[100, 1_500]], 1_500, 100, 90_500],
    [
      'two in one second, one later',
      [
        [100, 1_000],
        [50, 1_999],
        [25, 3_000],
      ],
      3_000,
      175,
      91_000,
    ],
    [
      'the first second leaves once wholly out of the window',
      [
        [100, 1_000],
        [25, 3_000],
      ],
      92_000,
      25,
      2_000,
    ],
    ['kept up to its last millisecond', [[100, 1_000]], 91_999, 100, 1],
    [
      'all out of the window',
      [
        [100, 1_000],
        [25, 3_000],
      ],
      94_000,
      0,
      0,
    ],
  ] as const)('%s', (_label, adds, nowMs, total, ttl) => {
    const r = createRecentBytes(90_000);
    for (const [bytes, at] of adds) r.add(bytes, at);
    expect(r.total(nowMs)).toBe(total);
    expect(r.ttl(nowMs)).toBe(ttl);
  });

  it('the window is one and a half recounts', () => {
    expect(shareWindowMs(60_000)).toBe(90_000);
  });
});

interface Host {
  clock: number;
  readonly dir: string;
  write(name: string, bytes: number): void;
}

function twoProcesses(): {
  host: Host;
  a: ReturnType<typeof createQuarantineUsage>;
  b: ReturnType<typeof createQuarantineUsage>;
} {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-usage-shared-'));
  dirs.push(dir);
  const host: Host = {
    clock: 0,
    dir,
    write: (name, bytes) => writeFileSync(path.join(dir, name), Buffer.alloc(bytes)),
  };
  const now = (): number => host.clock;
  const state = createMemoryStore({ now });
  const opts = { refreshMs: 60_000, now, state };
  return {
    host,
    a: createQuarantineUsage(dir, { ...opts, holder: 'w1' }),
    b: createQuarantineUsage(dir, { ...opts, holder: 'w2' }),
  };
}

/** A entry committed by one process: on disk first, then counted (as on-data does after the rename). */
function commit(host: Host, usage: ReturnType<typeof createQuarantineUsage>, name: string, bytes: number): void {
  host.write(name, bytes);
  usage.add(bytes);
}

describe('quarantine usage shared by two processes', () => {
  it('what one process writes counts for the other at once', async () => {
    const { host, a, b } = twoProcesses();
    await Promise.all([a.refresh(), b.refresh()]);
    commit(host, a, 'e1.eml', 1000);
    commit(host, b, 'e2.eml', 300);
    expect([await a.bytes(), await b.bytes()]).toEqual([1300, 1300]);
  });

  it('the writer recounting does not make its entry vanish from the other, whose count is older', async () => {
    const { host, a, b } = twoProcesses();
    await Promise.all([a.refresh(), b.refresh()]);
    host.clock = 1_000;
    commit(host, a, 'e1.eml', 1000);
    host.clock = 30_000;
    // A counts again: e1 moves from what A added into A's count; its share stays for B
    expect(await a.refresh()).toBe(1000);
    expect([await a.bytes(), await b.bytes()]).toEqual([1000, 1000]);
  });

  it('a count that holds another process’s entry errs on the full side until its share leaves the window', async () => {
    const { host, a, b } = twoProcesses();
    await Promise.all([a.refresh(), b.refresh()]);
    host.clock = 1_000;
    commit(host, a, 'e1.eml', 1000);
    host.clock = 10_000;
    await b.refresh(); // e1 in B's count and in A's share
    expect(await b.bytes()).toBe(2000);
    // A's share lasts until its second (1 s … 2 s) is wholly out of the 90 s window
    host.clock = 91_999;
    expect(await b.bytes()).toBe(2000);
    host.clock = 92_000;
    await b.refresh();
    expect(await b.bytes()).toBe(1000);
  });

  it.each([
    // [label, when B asks, what B answers]: B counted at 0, A wrote 1000 bytes at 1 s and then fell quiet
    ['within the recount interval: the share', 30_000, 1000],
    ['stale count, share alive: the share (recount in the background)', 70_000, 1000],
    ['count older than the window, share expired: B waits for a recount that holds the entry', 200_000, 1000],
  ] as const)('%s', async (_label, at, expected) => {
    const { host, a, b } = twoProcesses();
    await Promise.all([a.refresh(), b.refresh()]);
    host.clock = 1_000;
    commit(host, a, 'e1.eml', 1000);
    host.clock = at;
    const first = await b.bytes();
    // whatever a background recount held, a settled count says the same or more, never less
    await b.refresh();
    expect(first).toBe(expected);
    expect(await b.bytes()).toBeGreaterThanOrEqual(expected);
  });

  it('an entry removed (retention) leaves both views at their next counts', async () => {
    const { host, a, b } = twoProcesses();
    host.write('old.eml', 5000);
    await Promise.all([a.refresh(), b.refresh()]);
    expect([await a.bytes(), await b.bytes()]).toEqual([5000, 5000]);
    rmSync(path.join(host.dir, 'old.eml'));
    host.clock = 60_000;
    await Promise.all([a.refresh(), b.refresh()]);
    expect([await a.bytes(), await b.bytes()]).toEqual([0, 0]);
  });

  it('two quarantine directories on one store do not mix', async () => {
    const state = createMemoryStore();
    const d1 = mkdtempSync(path.join(tmpdir(), 'cg-usage-shared-'));
    const d2 = mkdtempSync(path.join(tmpdir(), 'cg-usage-shared-'));
    dirs.push(d1, d2);
    const u1 = createQuarantineUsage(d1, { state, holder: 'h1' });
    const u2 = createQuarantineUsage(d2, { state, holder: 'h2' });
    await Promise.all([u1.refresh(), u2.refresh()]);
    u1.add(700);
    expect([await u1.bytes(), await u2.bytes()]).toEqual([700, 0]);
  });
});
