// The notice claim: instances sharing one quarantine directory never work on the same entry at once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMessageId, type MessageId } from '../../src/quarantine/id.js';
import {
  claimOwnerText,
  mayTakeOver,
  THIS_PROCESS,
  type ClaimHolder,
  type HolderState,
} from '../../src/quarantine/notice-claim.js';
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

describe('mayTakeOver: when an existing claim is taken over', () => {
  const self: ClaimHolder = { host: 'mx1.example', token: 'token-of-this-process' };
  const STALE = HOUR;
  it.each([
    // [what the claim is, its age, its text, taken over]
    ['a fresh claim of another host', 0, 'mx2.example other-token', false],
    ['a claim of another host just short of stale', STALE - 1, 'mx2.example other-token', false],
    ['a claim of another host exactly stale', STALE, 'mx2.example other-token', true],
    ['a long-stale claim of another host', 5 * STALE, 'mx2.example other-token', true],
    ['a fresh claim of this process', 0, 'mx1.example token-of-this-process', false],
    ['a stale claim of this process (a send that hung)', STALE, 'mx1.example token-of-this-process', true],
    ['a fresh claim of this host by another process (a dead predecessor)', 0, 'mx1.example old-token', true],
    ['a fresh claim of this host without a token', 0, 'mx1.example', true],
    ['a fresh unreadable or empty claim', 0, '', false],
    ['a stale unreadable or empty claim', STALE, '', true],
    ['a fresh claim naming a host that only starts like ours', 0, 'mx1.example.org other-token', false],
  ] as const)('%s (age %d ms, %j) → %s', (_what, ageMs, owner, expected) => {
    expect(mayTakeOver({ ageMs, owner }, STALE, self)).toBe(expected);
  });

  it.each([
    // [what the claim's holder is by its lease, the claim's age, taken over]
    ['gone (its lease silent or stopped)', 'gone', 0, true],
    ['live (its lease renewed)', 'live', 0, false],
    ['unknown (no lease)', 'unknown', 0, false],
    // the age rule stands whatever the lease says: a holder that hangs mid-send is not waited on for ever
    ['live, but the claim stale', 'live', STALE, true],
  ] as const)('a claim of another instance whose holder is %s, age %d ms → %s', (_what, holder, ageMs, expected) => {
    expect(mayTakeOver({ ageMs, owner: 'mx2.example other-token' }, STALE, self, holder)).toBe(expected);
  });
});

describe('claimNotice with the holder judged by its lease', () => {
  it('asks about the holder named in the claim; takes it over when gone, respects it when live', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-claim-'));
    dirs.push(dir);
    const asked: string[] = [];
    let state: HolderState = 'live';
    const s = createQuarantineStore(dir, undefined, {
      claimHolder: (host, token) => {
        asked.push(`${host} ${token}`);
        return Promise.resolve(state);
      },
    });
    writeFileSync(claimFile(dir), 'mx2.example token-of-mx2');
    expect(await s.claimNotice(ID, HOUR)).toBe(false);
    state = 'gone';
    expect(await s.claimNotice(ID, HOUR)).toBe(true);
    expect(asked).toEqual(['mx2.example token-of-mx2', 'mx2.example token-of-mx2']);
    expect(readFileSync(claimFile(dir), 'utf8')).toBe(claimOwnerText(THIS_PROCESS));
  });

  it('a claim whose text names no holder is judged by its age alone', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-claim-'));
    dirs.push(dir);
    const asked: string[] = [];
    const s = createQuarantineStore(dir, undefined, {
      claimHolder: (host) => {
        asked.push(host);
        return Promise.resolve('gone');
      },
    });
    writeFileSync(claimFile(dir), 'garbage-without-a-token');
    expect(await s.claimNotice(ID, HOUR)).toBe(false);
    expect(asked).toEqual([]);
  });
});

describe('claimNotice and files planted in place of a claim', () => {
  it('the claim file holds this host and a token of this process', async () => {
    const { dir, s } = store();
    expect(await s.claimNotice(ID, HOUR)).toBe(true);
    const [host, token] = readFileSync(claimFile(dir), 'utf8').split(' ');
    expect(host).toBe(hostname().replace(/\s/g, '_'));
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a fresh FIFO in place of the claim is respected at once, without waiting for a writer; a stale one is taken over', async () => {
    const { dir, s } = store();
    execFileSync('mkfifo', [claimFile(dir)]);
    expect(await s.claimNotice(ID, HOUR)).toBe(false);
    const old = (Date.now() - 2 * HOUR) / 1000;
    utimesSync(claimFile(dir), old, old);
    expect(await s.claimNotice(ID, HOUR)).toBe(true);
  }, 10_000);

  it('a symbolic link in place of the claim is not read through: its target never makes it ours', async () => {
    const { dir, s } = store();
    // a target naming this host with another token would pass for a dead predecessor's claim if followed
    const target = path.join(dir, 'target');
    writeFileSync(target, `${hostname().replace(/\s/g, '_')} token-of-a-dead-process`);
    symlinkSync(target, claimFile(dir));
    expect(await s.claimNotice(ID, HOUR)).toBe(false);
    expect(readFileSync(target, 'utf8')).toContain('token-of-a-dead-process');
  });
});
