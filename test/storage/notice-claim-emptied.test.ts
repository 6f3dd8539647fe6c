// Claims are not fsynced (#13: they only matter while their holder runs). A power loss can leave one
// created but empty: it names no holder, so neither the predecessor rule nor the lease can release it.
// Its owner text is written right after the exclusive create, so a claim still empty a minute later
// has no live writer: it is taken over then, not after 30 minutes (during which a notice it held
// `sending` stayed so, and a pending one was not sent).
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { NOTICE_CLAIM_STALE_MS } from '../../src/notice/attempt.js';
import { parseMessageId, type MessageId } from '../../src/quarantine/id.js';
import { createQuarantineStore } from '../../src/quarantine/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const ID = parseMessageId('0mwtabc000000AbCdEfGh') as MessageId;

it('an empty claim is respected while it may be being written, and taken over a minute on', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-claim-emptied-'));
  dirs.push(dir);
  const s = createQuarantineStore(dir);
  const file = path.join(dir, `.${ID}.claim`);
  writeFileSync(file, '');
  expect(await s.claimNotice(ID, NOTICE_CLAIM_STALE_MS)).toBe(false);
  const twoMinutesAgo = (Date.now() - 120_000) / 1000;
  utimesSync(file, twoMinutesAgo, twoMinutesAgo);
  expect(await s.claimNotice(ID, NOTICE_CLAIM_STALE_MS)).toBe(true);
  await s.releaseNotice(ID);
});
