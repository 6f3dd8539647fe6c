// Keeps the recipients files of all domains loaded: reads them at start, re-reads on change,
// keeps the previous version whole when a new one cannot be read or has a line that does not parse.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { DomainFileConfig } from '../config/schema.js';
import type { FileEntries } from './directory.js';
import { fileSignature, loadRecipientsFile } from './load-recipients-file.js';
import type { RecipientsList } from './recipients-file.js';

export interface RecipientsFileEvents {
  /** `error` names the file, and the line for each line that does not parse. */
  onReload(
    domain: string,
    file: string,
    result: { readonly ok: true; readonly entries: number } | { readonly ok: false; readonly error: string },
  ): void;
}

export interface RecipientsFiles {
  /** Current list per domain (null: never read successfully). */
  current(): FileEntries;
  close(): void;
}

interface Watched {
  readonly domain: DomainFileConfig;
  readonly file: string;
  list: RecipientsList | null;
  signature: string;
}

const POLL_MS = 5000;
const DEBOUNCE_MS = 50;

const entriesOf = (list: RecipientsList): number => list.recipients.length + list.rules.length;

/**
 * Watches each file's directory, not the file, so editors and config management that replace the
 * file by rename are seen too; a slow poll backs inotify up on filesystems that do not report.
 */
export function watchRecipientsFiles(
  domains: readonly DomainFileConfig[],
  onChange: () => void,
  events: RecipientsFileEvents,
): RecipientsFiles {
  const watched: Watched[] = [];
  for (const domain of domains) {
    if (domain.recipientsFile === undefined) continue;
    const file = domain.recipientsFile;
    const r = loadRecipientsFile(file, domain);
    watched.push({ domain, file, list: r.ok ? r.list : null, signature: r.signature });
    if (!r.ok) events.onReload(domain.name, file, { ok: false, error: r.problems.join('; ') });
  }
  let timer: NodeJS.Timeout | null = null;
  const recheck = (): void => {
    timer = null;
    let changed = false;
    for (const w of watched) {
      if (fileSignature(w.file) === w.signature) continue;
      const r = loadRecipientsFile(w.file, w.domain);
      if (r.ok) {
        w.list = r.list;
        w.signature = r.signature;
        changed = true;
        events.onReload(w.domain.name, w.file, { ok: true, entries: entriesOf(r.list) });
      } else if (w.signature !== r.signature) {
        // an unreadable file is retried on every look (it may come back); a version with a bad line is
        // not read again until it changes, and each bad version is reported once
        w.signature = r.signature;
        events.onReload(w.domain.name, w.file, { ok: false, error: r.problems.join('; ') });
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
    current: () => new Map(watched.map((w) => [w.domain.name, w.list])),
    close() {
      for (const fw of watchers) fw.close();
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
    },
  };
}
