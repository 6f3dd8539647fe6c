// Small filesystem helpers for socket tests: walk a tree, read modes, poll until files appear.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every regular file under `dir` (recursively), as paths relative to `dir`, sorted. [] when absent. */
export function listFilesRecursive(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const d of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? path.join(rel, d.name) : d.name;
      if (d.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Every directory under `dir` (recursively, `dir` itself excluded), as absolute paths. */
export function listDirsRecursive(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const d of readdirSync(abs, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      const p = path.join(abs, d.name);
      out.push(p);
      walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The entries of one directory; [] when it does not exist. */
export function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Permission bits only (0o600 …). */
export function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

/** Polls `probe` until it returns a value that is not undefined, or throws after `timeoutMs`. */
export async function pollUntil<T>(
  probe: () => T | undefined,
  what: string,
  timeoutMs = 5000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** `Ok: queued as <id>` → the id; throws when the reply is not a queued reply. */
export function queuedId(response: string): string {
  const m = /^250 2\.0\.0 Ok: queued as ([A-Za-z0-9_-]+)$/.exec(response.trim());
  if (!m?.[1]) throw new Error(`not a queued reply: ${response}`);
  return m[1];
}

/** What a transaction leaves only while in flight: spool files, Maildir tmp/ files, quarantine .tmp files. */
export function tempLeftovers(dataDir: string): string[] {
  const spool = listFilesRecursive(path.join(dataDir, 'spool')).map((f) => `spool/${f}`);
  const maildirTmp = listFilesRecursive(path.join(dataDir, 'mail'))
    .filter((f) => f.split(path.sep).includes('tmp'))
    .map((f) => `mail/${f}`);
  const quarantineTmp = listFilesRecursive(path.join(dataDir, 'quarantine'))
    .filter((f) => f.endsWith('.tmp'))
    .map((f) => `quarantine/${f}`);
  return [...spool, ...maildirTmp, ...quarantineTmp];
}
