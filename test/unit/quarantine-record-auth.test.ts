// The sender's SPF/DMARC evidence written into an entry (SPEC §5) against a real directory: written
// once, never over evidence already there, never touching the notice state a parallel writer set,
// and a call that changes nothing writes nothing.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { newMessageId, type MessageId } from '../../src/quarantine/id.js';
import { createQuarantineStore } from '../../src/quarantine/store.js';
import { commitEntry, sampleEntry } from '../helpers/quarantine-entry.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cg-record-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (over: Partial<QuarantineEntry> = {}): QuarantineEntry =>
  sampleEntry({ notice: { status: 'suppressed', reason: 'notices-disabled', attempts: 0 }, ...over });

const stored = (e: QuarantineEntry): Promise<MessageId> => commitEntry(createQuarantineStore(dir), e);

const onDisk = (id: string): QuarantineEntry =>
  JSON.parse(readFileSync(path.join(dir, `${id}.json`), 'utf8')) as QuarantineEntry;

describe('recordAuth', () => {
  it('fills in missing evidence and leaves everything else as it was', async () => {
    const e = entry();
    const id = await stored(e);
    const store = createQuarantineStore(dir);
    const r = await store.recordAuth(id, { spf: 'pass', dmarc: 'none', aligned: true });
    expect(r?.auth).toEqual({ spf: 'pass', dmarc: 'none', aligned: true });
    expect(onDisk(id)).toEqual({ ...e, auth: { spf: 'pass', dmarc: 'none', aligned: true } });
    // no temp or lock file stays behind
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('never replaces evidence already recorded, and then writes nothing at all', async () => {
    const id = await stored(entry({ auth: { spf: 'fail', dmarc: 'fail' } }));
    const before = statSync(path.join(dir, `${id}.json`));
    const r = await createQuarantineStore(dir).recordAuth(id, { spf: 'pass', dmarc: 'pass' });
    expect(r?.auth).toEqual({ spf: 'fail', dmarc: 'fail' });
    const after = statSync(path.join(dir, `${id}.json`));
    // the same file, not a rewrite with equal content
    expect(after.ino).toBe(before.ino);
    expect(onDisk(id).auth).toEqual({ spf: 'fail', dmarc: 'fail' });
  });

  it('keeps a notice state and access records written by another process meanwhile', async () => {
    const id = await stored(entry({ notice: { status: 'pending', attempts: 0 } }));
    const server = createQuarantineStore(dir);
    const command = createQuarantineStore(dir);
    await Promise.all([
      server.recordAuth(id, { spf: 'softfail', dmarc: 'none' }),
      command.updateNotice(id, { status: 'sent', attempts: 1, sentAt: '2026-12-01T10:01:00.000Z' }),
      command.appendAccess(id, { at: '2026-12-01T10:02:00.000Z', action: 'show', by: 'owner' }),
    ]);
    const e = onDisk(id);
    expect(e.auth).toEqual({ spf: 'softfail', dmarc: 'none' });
    expect(e.notice).toMatchObject({ status: 'sent', attempts: 1 });
    expect(e.access).toHaveLength(1);
  });

  it('is null for an entry that is not there', async () => {
    expect(await createQuarantineStore(dir).recordAuth(newMessageId(), { spf: 'none', dmarc: 'none' })).toBeNull();
  });
});
