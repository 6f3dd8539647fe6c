// Start-time cleanup of the quarantine: our own crash leftovers go at once, another instance's fresh
// in-flight files stay (instances may share the data volume), stale ones of anybody go.
import {
  existsSync,
  lstatSync,
  lutimesSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crashLeftovers } from '../../src/quarantine/crash-cleanup.js';
import { entryIdsNewestFirst } from '../../src/quarantine/entry-reader.js';
import { createQuarantineStore } from '../../src/quarantine/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('removes own leftovers and stale foreign ones, keeps fresh foreign ones and complete entries', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-clean-'));
  dirs.push(dir);
  const host = hostname().replace(/\s/g, '_');
  const files = {
    ownTmp: `.aaa.${host}.eml.tmp`,
    ownUnfinishedEml: 'bbb.eml',
    ownUnfinishedJsonTmp: `.bbb.${host}.json.tmp`,
    foreignFreshTmp: '.ccc.other-host.json.tmp',
    foreignFreshEml: 'ccc.eml',
    foreignStaleTmp: '.ddd.other-host.eml.tmp',
    completeEml: 'eee.eml',
    completeJson: 'eee.json',
  };
  for (const f of Object.values(files)) writeFileSync(path.join(dir, f), 'x');
  const old = (Date.now() - 3_600_000) / 1000;
  utimesSync(path.join(dir, files.foreignStaleTmp), old, old);

  expect(await createQuarantineStore(dir).cleanTemp()).toBe(4);
  const exists = (f: string): boolean => existsSync(path.join(dir, f));
  expect(exists(files.ownTmp)).toBe(false);
  expect(exists(files.ownUnfinishedEml)).toBe(false);
  expect(exists(files.ownUnfinishedJsonTmp)).toBe(false);
  expect(exists(files.foreignStaleTmp)).toBe(false);
  expect(exists(files.foreignFreshTmp)).toBe(true);
  expect(exists(files.foreignFreshEml)).toBe(true);
  expect(exists(files.completeEml)).toBe(true);
  expect(exists(files.completeJson)).toBe(true);
});

it("a stale foreign symbolic link is judged by its own age, not its target's, and removed without touching the target", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-clean-'));
  dirs.push(dir);
  const target = path.join(dir, 'target-of-the-link');
  writeFileSync(target, 'keep me');
  const link = path.join(dir, '.fff.other-host.eml.tmp');
  symlinkSync(target, link);
  // an old target behind a fresh link: the link stays for now
  const old = (Date.now() - 3_600_000) / 1000;
  utimesSync(target, old, old);
  expect(await createQuarantineStore(dir).cleanTemp()).toBe(0);
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  // the link itself old: it goes, the target stays
  lutimesSync(link, old, old);
  expect(await createQuarantineStore(dir).cleanTemp()).toBe(1);
  expect(existsSync(link)).toBe(false);
  expect(existsSync(target)).toBe(true);
});

describe('crashLeftovers: which names a crash left, and whose', () => {
  const HOST = 'mx1.example';
  it.each([
    // [name, the other names in the directory, leftover, own]
    ['.aaa.mx1.example.eml.tmp', [], true, true],
    ['.aaa.mx1.example.json.tmp', [], true, true],
    ['.aaa.mx2.example.eml.tmp', [], true, false],
    ['.aaa.mx2.example.json.tmp', [], true, false],
    // ours, between the two renames of a commit: the .eml is in place, the .json still a temp file
    ['bbb.eml', ['.bbb.mx1.example.json.tmp'], true, true],
    // another host's, in the same state: its commit may still be running
    ['bbb.eml', ['.bbb.mx2.example.json.tmp'], true, false],
    ['bbb.eml', [], true, false],
    ['eee.eml', ['eee.json'], false, false],
    ['eee.json', ['eee.eml'], false, false],
    ['.eee.claim', ['eee.eml', 'eee.json'], false, false],
    // a temp name without the leading dot is nobody's temp file
    ['aaa.mx1.example.eml.tmp', [], false, false],
    // another host whose name merely ends in the letters of ours
    ['.aaa.xmx1.example.eml.tmp', [], true, false],
    // another instance whose id ends in ours after a dot: ids are parsed, not matched by their end
    ['.aaa.a.mx1.example.eml.tmp', [], true, false],
    ['bbb.eml', ['.bbb.a.mx1.example.json.tmp'], true, false],
    // a sealed entry's composed notice, ours
    ['.aaa.mx1.example.notice.tmp', [], true, true],
    // a rewrite's temp name (`.<file>.<pid>.<time>.tmp`) names no instance
    ['.aaa.json.1234.1700000000000.tmp', [], true, false],
  ] as const)('%s beside %j → leftover %s, own %s', (name, others, leftover, own) => {
    const found = crashLeftovers([...others, name], HOST).find((l) => l.name === name);
    expect(found !== undefined).toBe(leftover);
    if (found) expect(found.own).toBe(own);
  });
});

describe('entryIdsNewestFirst: which names are entries', () => {
  it('takes <id>.json with a valid id, newest (largest) first; no temp, claim, .eml or planted name', () => {
    const names = [
      '0mwtaaa000000AAAAAAAA.json',
      '0mwtccc000000CCCCCCCC.json',
      '0mwtbbb000000BBBBBBBB.json',
      '0mwtbbb000000BBBBBBBB.eml',
      '.0mwtddd000000DDDDDDDD.mx1.json.tmp',
      '.0mwtddd000000DDDDDDDD.json',
      '.0mwteee000000EEEEEEEE.claim',
      'has space.json',
      'dot.dot.json',
      '.json',
      `${'a'.repeat(65)}.json`,
    ];
    expect(entryIdsNewestFirst(names)).toEqual([
      '0mwtccc000000CCCCCCCC',
      '0mwtbbb000000BBBBBBBB',
      '0mwtaaa000000AAAAAAAA',
    ]);
  });
});
