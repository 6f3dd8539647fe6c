// The notice claim: instances sharing one quarantine directory never work on the same entry at once.
import { mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMessageId, type MessageId } from '../../src/quarantine/id.js';
import { createQuarantineStore } from '../../src/quarantine/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function store(): { dir: string; s: ReturnType<typeof createQuarantineStore> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-claim-'));
  dirs.push(dir);
  return { dir, s: createQuarantineStore(dir) };
}
const ID = parseMessageId('0mwtabc000000AbCdEfGh') as MessageId;
const claimFile = (dir: string): string => path.join(dir, `.${ID}.claim`);
const HOUR = 3_600_000;

describe('claimNotice', () => {
  it('is exclusive until released', async () => {
    const { s } = store();
    expect(await s.claimNotice(ID, HOUR)).toBe(true);
    expect(await s.claimNotice(ID, HOUR)).toBe(false);
    await s.releaseNotice(ID);
    expect(await s.claimNotice(ID, HOUR)).toBe(true);
  });

  it('a fresh claim of another host is respected; a stale one is taken over', async () => {
    const { dir, s } = store();
    writeFileSync(claimFile(dir), 'other-host.example some-token');
    expect(await s.claimNotice(ID, HOUR)).toBe(false);
    const old = (Date.now() - 2 * HOUR) / 1000;
    utimesSync(claimFile(dir), old, old);
    expect(await s.claimNotice(ID, HOUR)).toBe(true);
  });

  it('a claim of this host by another process (a crashed predecessor) is taken over at once', async () => {
    const { dir, s } = store();
    writeFileSync(claimFile(dir), `${hostname().replace(/\s/g, '_')} token-of-a-dead-process`);
    expect(await s.claimNotice(ID, HOUR)).toBe(true);
    await s.releaseNotice(ID);
    expect(existsSync(claimFile(dir))).toBe(false);
  });
});
