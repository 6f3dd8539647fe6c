// One recipients file from disk → its list, or what is wrong with it (each problem naming the file,
// and the line for a line that does not parse). Shared by config validation, the watcher and commands.
import { readFileSync, statSync } from 'node:fs';
import { describeLineErrors, parseRecipientsFile, type FileDomain, type RecipientsList } from './recipients-file.js';

export type LoadedRecipientsFile =
  | { readonly ok: true; readonly list: RecipientsList; readonly signature: string }
  /** `unreadable`: the file could not be read (`FILE: ENOENT`); `invalid`: lines that do not parse. */
  | {
      readonly ok: false;
      readonly kind: 'unreadable' | 'invalid';
      readonly problems: readonly string[];
      readonly signature: string;
    };

/** Identity of one version of the file, cheap to compare: a rename, a write or a truncation changes it. */
export function fileSignature(file: string): string {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export function loadRecipientsFile(file: string, domain: FileDomain): LoadedRecipientsFile {
  let text: string;
  let signature: string;
  try {
    signature = fileSignature(file);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { ok: false, kind: 'unreadable', problems: [`${file}: ${code}`], signature: `failed:${code}` };
  }
  const parsed = parseRecipientsFile(text, domain);
  if (!parsed.ok) return { ok: false, kind: 'invalid', problems: describeLineErrors(file, parsed.errors), signature };
  return { ok: true, list: parsed.list, signature };
}
