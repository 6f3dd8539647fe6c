// Where the files of an entry live in the quarantine directory. Every path the store touches is built
// here, from a checked MessageId or a name read from the directory, never from user input.
import path from 'node:path';
import { THIS_INSTANCE } from '../storage/instance-id.js';

/**
 * Temp names and notice claims carry the instance id (the host name unless CATCHALL_GUARD_INSTANCE_ID
 * says otherwise): instances sharing a data volume (SPEC §11) tell their own leftovers and claims from
 * another's.
 */
export const THIS_HOST = THIS_INSTANCE;
export const TMP_SUFFIX = '.tmp';

/** `.<id>.<host>.eml.tmp`: a dot name, so neither `list()` nor an orphan check takes it for an entry. */
export const tempName = (id: string, host: string, file: 'eml' | 'json' | 'notice'): string =>
  `.${id}.${host}.${file}${TMP_SUFFIX}`;

export interface EntryPaths {
  readonly dir: string;
  eml(id: string): string;
  json(id: string): string;
  /** `<id>.eml.age`: the message of a sealed entry (quarantine.sealTo). */
  sealed(id: string): string;
  /** `<id>.notice.json`: a sealed entry's notices, composed at receipt, until they are settled. */
  composedNotice(id: string): string;
  /** `.<id>.claim`: one notice worker at a time, across processes (notice-claim.ts). */
  claim(id: string): string;
  /** Where this host writes an entry's files before the commit renames them into place. */
  tempEml(id: string): string;
  tempJson(id: string): string;
  tempNotice(id: string): string;
  /** `.<id>.lock`: one rewrite of the metadata at a time, across processes (entry-lock.ts). */
  lock(id: string): string;
  /** A name read from the directory. */
  named(name: string): string;
}

export function entryPaths(dir: string): EntryPaths {
  return {
    dir,
    eml: (id) => path.join(dir, `${id}.eml`),
    json: (id) => path.join(dir, `${id}.json`),
    sealed: (id) => path.join(dir, `${id}.eml.age`),
    composedNotice: (id) => path.join(dir, `${id}.notice.json`),
    claim: (id) => path.join(dir, `.${id}.claim`),
    tempEml: (id) => path.join(dir, tempName(id, THIS_HOST, 'eml')),
    tempJson: (id) => path.join(dir, tempName(id, THIS_HOST, 'json')),
    tempNotice: (id) => path.join(dir, tempName(id, THIS_HOST, 'notice')),
    lock: (id) => path.join(dir, `.${id}.lock`),
    named: (name) => path.join(dir, name),
  };
}
