// quarantine/usage: the byte count behind quarantine.maxSize, from the directory plus what was added.
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createQuarantineUsage } from '../../src/quarantine/usage.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cg-usage-'));
  dirs.push(d);
  return d;
}

describe('quarantine usage', () => {
  it('counts regular files only (a planted symlink to a big file counts nothing), and a missing directory as 0', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'a.eml'), Buffer.alloc(1000));
    writeFileSync(path.join(d, 'a.json'), Buffer.alloc(200));
    symlinkSync('/proc/self/exe', path.join(d, 'b.eml'));
    expect(await createQuarantineUsage(d).refresh()).toBe(1200);
    expect(await createQuarantineUsage(path.join(d, 'absent')).refresh()).toBe(0);
  });

  it('adds committed entries at once and recounts once the count is older than refreshMs', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'a.eml'), Buffer.alloc(1000));
    let clock = 0;
    const usage = createQuarantineUsage(d, { refreshMs: 60_000, now: () => clock });
    await usage.refresh();
    usage.add(500);
    expect(await usage.bytes()).toBe(1500);
    // an entry leaves (retention, `quarantine delete`): not seen until the next count
    unlinkSync(path.join(d, 'a.eml'));
    clock = 59_999;
    expect(await usage.bytes()).toBe(1500);
    clock = 60_000;
    const stale = usage.bytes(); // starts the recount in the background, answers from the last count
    expect(await usage.refresh()).toBe(0);
    expect(await stale).toBe(1500);
    expect(await usage.bytes()).toBe(0);
  });
});
