// Keeps the recipients files of all domains loaded: reads them at start, re-reads on change,
// keeps the previous entries when a new version cannot be read.
import { readFileSync, watch, statSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { parseRecipientsFile } from './recipients-file.js';

export interface RecipientsFileEvents {
  onReload(
    domain: string,
    file: string,
    result: { readonly ok: true; readonly entries: number } | { readonly ok: false; readonly error: string },
  ): void;
}

export interface RecipientsFiles {
  /** Current entries per domain (null: never read successfully). */
  current(): Map<string, readonly string[] | null>;
  close(): void;
}

interface Watched {
  readonly domain: string;
  readonly file: string;
  entries: readonly string[] | null;
  signature: string;
}

const POLL_MS = 5000;
const DEBOUNCE_MS = 50;

function readEntries(file: string): { ok: true; entries: string[]; signature: string } | { ok: false; error: string } {
  try {
    const st = statSync(file);
    const text = readFileSync(file, 'utf8');
    return { ok: true, entries: parseRecipientsFile(text), signature: `${st.ino}:${st.size}:${st.mtimeMs}` };
  } catch (err) {
    return { ok: false, error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

function signatureOf(file: string): string {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * Watches each file's directory, not the file, so editors and config management that replace the
 * file by rename are seen too; a slow poll backs inotify up on filesystems that do not report.
 */
export function watchRecipientsFiles(
  files: ReadonlyMap<string, string>,
  onChange: () => void,
  events: RecipientsFileEvents,
): RecipientsFiles {
  const watched: Watched[] = [];
  for (const [domain, file] of files) {
    const r = readEntries(file);
    watched.push({ domain, file, entries: r.ok ? r.entries : null, signature: r.ok ? r.signature : 'missing' });
    if (!r.ok) events.onReload(domain, file, r);
  }
  let timer: NodeJS.Timeout | null = null;
  const recheck = (): void => {
    timer = null;
    let changed = false;
    for (const w of watched) {
      if (signatureOf(w.file) === w.signature) continue;
      const r = readEntries(w.file);
      if (r.ok) {
        w.entries = r.entries;
        w.signature = r.signature;
        changed = true;
        events.onReload(w.domain, w.file, { ok: true, entries: r.entries.length });
      } else if (w.signature !== `failed:${r.error}`) {
        w.signature = `failed:${r.error}`;
        events.onReload(w.domain, w.file, r);
      }
    }
    if (changed) onChange();
  };
  const schedule = (): void => {
    if (!timer) timer = setTimeout(recheck, DEBOUNCE_MS);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(watched.map((w) => path.dirname(w.file)))) {
    try {
      const names = new Set(watched.filter((w) => path.dirname(w.file) === dir).map((w) => path.basename(w.file)));
      const fw = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name.toString())) schedule();
      });
      fw.on('error', () => undefined);
      watchers.push(fw);
    } catch {
      // the poll below still notices changes
    }
  }
  const poll = watched.length > 0 ? setInterval(schedule, POLL_MS) : null;
  poll?.unref();

  return {
    current: () => new Map(watched.map((w) => [w.domain, w.entries])),
    close() {
      for (const fw of watchers) fw.close();
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
    },
  };
}
