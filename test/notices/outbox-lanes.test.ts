// The outbox's two lanes against a real quarantine directory: entries that only lack the sender's
// SPF/DMARC evidence are worked one at a time, and a pending notice does not wait behind a backlog
// of them. DNS is a stand-in that answers NXDOMAIN after a delay and counts the entries asking at once.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOutbox, type Outbox } from '../../src/notice/outbox.js';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { createQuarantineStore, type QuarantineStore } from '../../src/quarantine/store.js';
import { captureEvents } from '../helpers/log-capture.js';
import { baseConfig, loadTestConfig, writeConfig } from '../helpers/start-app.js';
import { commitEntry, sampleEntry } from '../helpers/quarantine-entry.js';

const dirs: string[] = [];
let outbox: Outbox | null = null;
afterEach(async () => {
  await outbox?.stop(1000);
  outbox = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function entry(i: number, notice: QuarantineEntry['notice']): QuarantineEntry {
  return sampleEntry({
    receivedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    // a sender domain per entry: SPF asks about each one
    mailFrom: `orders@shop${i}.example`,
    headerFrom: `Shop <orders@shop${i}.example>`,
    messageId: `<m${i}@shop.example>`,
    notice,
  });
}

const commit = (store: QuarantineStore, e: QuarantineEntry): Promise<unknown> =>
  commitEntry(store, e, Buffer.from(`From: ${e.headerFrom}\r\nSubject: x\r\n\r\nbody\r\n`));

/** Until `ok` holds, looking every 10 ms. */
const until = (ok: () => boolean, timeout: number): Promise<void> =>
  vi.waitFor(() => expect(ok()).toBe(true), { timeout, interval: 10 });

const onDisk = (dir: string, id: string): QuarantineEntry =>
  JSON.parse(readFileSync(path.join(dir, `${id}.json`), 'utf8')) as QuarantineEntry;

describe('outbox lanes', () => {
  it('records evidence one entry at a time, and a pending notice goes ahead of the backlog', async () => {
    const { dir, configPath, dataDir } = writeConfig(baseConfig({ notices: { enabled: false } }));
    dirs.push(dir);
    const config = loadTestConfig(configPath, dataDir);
    const store = createQuarantineStore(config.quarantine.path);
    const suppressed = { status: 'suppressed', reason: 'notices-disabled', attempts: 0 } as const;
    const backlog = Array.from({ length: 8 }, (_, i) => entry(i, suppressed));
    for (const e of backlog) await commit(store, e);
    const pending = entry(99, { status: 'pending', attempts: 0, nextAttemptAt: new Date().toISOString() });
    await commit(store, pending);

    // which senders' domains are being looked up right now, and the most at once
    const asking = new Map<string, number>();
    let mostAtOnce = 0;
    const resolver = async (name: string): Promise<unknown> => {
      const sender = /shop\d+\.example/.exec(name)?.[0] ?? name;
      asking.set(sender, (asking.get(sender) ?? 0) + 1);
      mostAtOnce = Math.max(mostAtOnce, asking.size);
      await new Promise((r) => setTimeout(r, 40));
      const left = (asking.get(sender) ?? 1) - 1;
      if (left === 0) asking.delete(sender);
      else asking.set(sender, left);
      throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    };

    const events = captureEvents();
    outbox = createOutbox({ runtime: () => ({ config, quarantine: store }), events: events.sink, resolver });
    // not started: start() would scan the directory itself; the kicks are what a commit does
    for (const e of backlog) outbox.kick(e.id, 'evidence');
    outbox.kick(pending.id, 'notice');
    await outbox.start();

    // the pending entry's notice is settled while most of the backlog still waits for its evidence
    await until(() => onDisk(config.quarantine.path, pending.id).notice.status !== 'pending', 10_000);
    const stillWaiting = backlog.filter((e) => onDisk(config.quarantine.path, e.id).auth === null).length;
    expect(stillWaiting).toBeGreaterThan(backlog.length / 2);
    expect(onDisk(config.quarantine.path, pending.id).notice).toMatchObject({
      status: 'suppressed',
      reason: 'notices-disabled',
    });

    // every entry gets its evidence in the end, and never more than one evidence entry plus the
    // notice's own check were asking DNS at once
    await until(() => backlog.every((e) => onDisk(config.quarantine.path, e.id).auth !== null), 20_000);
    // no sender domain has a record here: each entry says so, none is left without a result
    for (const e of backlog) expect(['none', 'temperror']).toContain(onDisk(config.quarantine.path, e.id).auth?.spf);
    expect(mostAtOnce).toBeGreaterThanOrEqual(1);
    expect(mostAtOnce).toBeLessThanOrEqual(2);
    // the notice (suppressed) was recorded with its own evidence too
    await until(() => onDisk(config.quarantine.path, pending.id).auth !== null, 10_000);
  });
});
