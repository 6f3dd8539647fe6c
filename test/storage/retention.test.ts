// The server's retention purge: expired entries go at start and on every interval, each run logs `purge`.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { newMessageId } from '../../src/quarantine/id.js';
import { expiredBy, purgeMatching, purgeRule, receivedBy } from '../../src/quarantine/purge.js';
import { RETENTION_INTERVAL_MS, startRetention, type Retention } from '../../src/quarantine/retention.js';
import { createQuarantineStore, type QuarantineStore } from '../../src/quarantine/store.js';
import { captureEvents } from '../helpers/log-capture.js';

const DAY = 86_400_000;
let dir: string;
let store: QuarantineStore;
let retention: Retention | null = null;

async function plant(receivedAt: Date, expiresAt: Date, into: QuarantineStore = store): Promise<string> {
  const id = newMessageId(receivedAt);
  const raw = 'Subject: hello\r\n\r\nbody\r\n';
  const spool = path.join(dir, `spool-${id}`);
  writeFileSync(spool, raw);
  const entry: QuarantineEntry = {
    id,
    receivedAt: receivedAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
    remoteAddress: '192.0.2.1',
    helo: 'client.test',
    mailFrom: 'a@client.test',
    recipients: ['x@example.test'],
    deliveredTo: [],
    size: raw.length,
    bodyStored: true,
    messageId: null,
    subject: 'hello',
    headerFrom: null,
    headers: {},
    auth: null,
    kind: 'quarantined',
    access: [],
    notice: { status: 'suppressed', reason: 'test', attempts: 0 },
  };
  const prepared = await into.prepare(
    entry,
    { kind: 'file', path: spool, size: raw.length, headerBlock: Buffer.alloc(0), headerEnd: 18 },
    true,
  );
  await prepared.commit();
  rmSync(spool);
  return id;
}

const ids = (): string[] =>
  readdirSync(path.join(dir, 'q'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-retention-'));
  store = createQuarantineStore(path.join(dir, 'q'));
});
afterEach(async () => {
  await retention?.stop();
  retention = null;
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe('retention purge in the running server', () => {
  it('deletes expired entries at start and logs a purge event with the count', async () => {
    const now = Date.now();
    const older = await plant(new Date(now - 20 * DAY), new Date(now - 6 * DAY));
    const old = await plant(new Date(now - 15 * DAY), new Date(now - 1000));
    const keep = await plant(new Date(now - DAY), new Date(now + 13 * DAY));
    const events = captureEvents();
    retention = startRetention({ store: () => store, events: events.sink, intervalMs: 60_000 });
    const e = await events.waitFor('purge');
    // the ids deleted, newest first: the log keeps what went
    expect(e).toEqual({ event: 'purge', deleted: 2, ids: [old, older] });
    expect(ids()).toEqual([keep]);
    expect(events.lines.some((l) => /"event":"purge","deleted":2/.test(l))).toBe(true);
  });

  it('runs again on every interval, through the store getter (so a reload is followed)', async () => {
    const events = captureEvents();
    let current = store;
    retention = startRetention({ store: () => current, events: events.sink, intervalMs: 100 });
    await events.waitFor('purge');
    const now = Date.now();
    await plant(new Date(now - 15 * DAY), new Date(now - 1000));
    await events.waitFor('purge', (e) => e.deleted === 1);
    expect(ids()).toEqual([]);

    // a reloaded configuration points at another directory
    const other = createQuarantineStore(path.join(dir, 'q2'));
    await plant(new Date(now - 15 * DAY), new Date(now - 1000), other);
    current = other;
    await events.waitFor('purge', () => events.of('purge').filter((p) => p.deleted === 1).length >= 2);
    expect(readdirSync(path.join(dir, 'q2')).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('stop() ends the runs', async () => {
    const events = captureEvents();
    retention = startRetention({ store: () => store, events: events.sink, intervalMs: 50 });
    await events.waitFor('purge');
    await retention.stop();
    const count = events.of('purge').length;
    await new Promise((r) => setTimeout(r, 300));
    expect(events.of('purge').length).toBe(count);
    expect(await retention.runNow()).toBeNull();
  });

  it('a failing store is logged as an error event, and the next run happens anyway', async () => {
    const events = captureEvents();
    let calls = 0;
    const failing: QuarantineStore = {
      ...store,
      async purge() {
        calls++;
        if (calls === 1) throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
        return { deleted: 0, ids: [], unreadable: [] };
      },
    };
    retention = startRetention({ store: () => failing, events: events.sink, intervalMs: 50 });
    const err = await events.waitFor('error', (e) => e.where === 'purge');
    expect(err.error).toBe('EACCES: permission denied');
    await events.waitFor('purge', (e) => e.deleted === 0);
  });

  it('runs at least hourly, even when asked for a longer interval; runs never overlap', async () => {
    vi.useFakeTimers();
    const events = captureEvents();
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const slow: QuarantineStore = {
      ...store,
      async purge() {
        calls++;
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return { deleted: 0, ids: [], unreadable: [] };
      },
    };
    retention = startRetention({ store: () => slow, events: events.sink, intervalMs: 24 * RETENTION_INTERVAL_MS });
    expect(calls).toBe(1);
    void retention.runNow(); // joins the run in progress
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(RETENTION_INTERVAL_MS);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(RETENTION_INTERVAL_MS);
    expect(calls).toBe(3);
    await vi.advanceTimersByTimeAsync(20); // let the last run finish before the timers turn real again
    expect(maxRunning).toBe(1);
    expect(events.of('purge')).toHaveLength(3);
  });
});

describe('purge rules', () => {
  const NOW = new Date('2026-12-01T12:00:00.000Z');
  const at = (offsetMs: number): string => new Date(NOW.getTime() + offsetMs).toISOString();
  const entry = (receivedAt: string, expiresAt: string): { receivedAt: string; expiresAt: string } => ({
    receivedAt,
    expiresAt,
  });

  it.each([
    // [case, receivedAt, expiresAt, goes]
    ['expired a week ago', at(-20 * DAY), at(-7 * DAY), true],
    ['expires this very millisecond', at(-14 * DAY), at(0), true],
    ['expires a millisecond from now', at(-14 * DAY), at(1), false],
    ['expires in two weeks, received long ago', at(-90 * DAY), at(14 * DAY), false],
    ['an unreadable expiresAt', at(-90 * DAY), 'never', false],
    ['a date without a time (UTC midnight)', at(-90 * DAY), '2026-12-01', true],
  ] as const)('expiredBy(now): %s → %s', (_case, receivedAt, expiresAt, goes) => {
    expect(expiredBy(NOW)(entry(receivedAt, expiresAt))).toBe(goes);
  });

  it.each([
    ['received before the cutoff, not expired', at(-3 * DAY), at(11 * DAY), true],
    ['received at the cutoff', at(-2 * DAY), at(12 * DAY), true],
    ['received a millisecond after the cutoff', at(-2 * DAY + 1), at(12 * DAY), false],
    ['received an hour ago, already expired', at(-3_600_000), at(-1), false],
    ['an unreadable receivedAt', 'yesterday', at(-DAY), false],
  ] as const)('receivedBy(now - 2d): %s → %s', (_case, receivedAt, expiresAt, goes) => {
    expect(receivedBy(new Date(NOW.getTime() - 2 * DAY))(entry(receivedAt, expiresAt))).toBe(goes);
  });

  it.each([
    // [case, --older-than in ms or none, receivedAt, expiresAt, goes]
    ['no duration: expired goes', undefined, at(-20 * DAY), at(-DAY), true],
    ['no duration: old but unexpired stays', undefined, at(-20 * DAY), at(DAY), false],
    ['2d: old but unexpired goes', 2 * DAY, at(-3 * DAY), at(11 * DAY), true],
    ['2d: recent but expired stays', 2 * DAY, at(-DAY), at(-1), false],
    ['0: everything received up to now goes', 0, at(0), at(DAY), true],
  ] as const)('purgeRule (quarantine purge [--older-than]): %s', (_case, olderThanMs, receivedAt, expiresAt, goes) => {
    expect(purgeRule(NOW, olderThanMs)(entry(receivedAt, expiresAt))).toBe(goes);
  });

  it('purgeMatching removes exactly the entries the rule picks, in list order, and counts them', async () => {
    const listed = [
      { id: 'c', receivedAt: at(-DAY), expiresAt: at(-1) },
      { id: 'b', receivedAt: at(-DAY), expiresAt: at(DAY) },
      { id: 'a', receivedAt: at(-2 * DAY), expiresAt: at(-DAY) },
    ];
    const removed: string[] = [];
    const result = await purgeMatching(listed, expiredBy(NOW), async (id) => void removed.push(id));
    expect(result).toEqual({ deleted: 2, ids: ['c', 'a'] });
    expect(removed).toEqual(['c', 'a']);
  });

  it('purgeMatching stops at the first failing removal and passes the error on', async () => {
    const listed = [
      { id: 'x', receivedAt: at(-DAY), expiresAt: at(-1) },
      { id: 'y', receivedAt: at(-DAY), expiresAt: at(-1) },
    ];
    const removed: string[] = [];
    const failing = async (id: string): Promise<void> => {
      if (id === 'x') throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
      removed.push(id);
    };
    await expect(purgeMatching(listed, expiredBy(NOW), failing)).rejects.toMatchObject({ code: 'EACCES' });
    expect(removed).toEqual([]);
  });
});
