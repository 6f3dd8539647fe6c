// cleanStaleSpools (message/spool.ts) removes spool files older than a day from other instances'
// directories and, since workers spool in worker-<id>/ directories, one level down. It must go down
// into real directories only: a symbolic link in a spool directory that points at a directory
// elsewhere (another volume's mail, a backup) is a name to remove, never a directory to empty.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanStaleSpools } from '../../src/message/spool.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

it("a stale other instance's files and its workers' go; a linked directory's files stay", async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'cg-stale-spool-'));
  dirs.push(base);
  const root = path.join(base, 'spool');
  const own = path.join(root, 'me');
  const other = path.join(root, 'gone');
  const elsewhere = path.join(base, 'elsewhere');
  for (const d of [own, path.join(other, 'worker-1'), elsewhere]) mkdirSync(d, { recursive: true });
  const old = new Date(Date.now() - 2 * 86_400_000);
  const oldFile = (file: string): void => {
    writeFileSync(file, 'x');
    utimesSync(file, old, old);
  };
  oldFile(path.join(other, 'a.eml'));
  oldFile(path.join(other, 'worker-1', 'b.eml'));
  oldFile(path.join(elsewhere, 'keep.eml'));
  symlinkSync(elsewhere, path.join(other, 'worker-2'));

  await cleanStaleSpools(root, own, 86_400_000);

  expect(readdirSync(elsewhere)).toEqual(['keep.eml']);
  expect(readdirSync(path.join(other, 'worker-1'))).toEqual([]);
  expect(readdirSync(other).filter((n) => n !== 'worker-2')).toEqual(['worker-1']);
});
