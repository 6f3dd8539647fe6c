// Start-time cleanup of the quarantine: our own crash leftovers go at once, another instance's fresh
// in-flight files stay (instances may share the data volume), stale ones of anybody go.
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
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

  await createQuarantineStore(dir).cleanTemp();
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
