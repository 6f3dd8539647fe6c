// The set of known recipients of every served domain. Decides nothing about SMTP. Pure, no I/O.
import type { DomainFileConfig } from '../config/schema.js';
import { compileGlobs, isGlob } from './glob.js';

export type UnknownRecipientMode = 'reject' | 'reject-after-data' | 'quarantine' | 'observe';

export type DirectoryAnswer =
  | { readonly kind: 'not-served' }
  | { readonly kind: 'known'; readonly matchedBy: 'postmaster' | 'listed' | 'glob' | 'file'; readonly mailbox: string }
  | { readonly kind: 'unknown'; readonly mode: UnknownRecipientMode; readonly observeMailbox: string | undefined }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface RecipientDirectory {
  /** O(1) for listed and file entries, O(patterns) for globs. `localPart` as received. */
  lookup(domain: string, localPart: string): DirectoryAnswer;
  isServed(domain: string): boolean;
  /** The first served domain: where a bare `RCPT TO:<postmaster>` goes. */
  readonly primaryDomain: string;
}

/** File entries per domain name; `null` means the file is configured but could not be read yet. */
export type FileEntries = ReadonlyMap<string, readonly string[] | null>;

interface CompiledDomain {
  readonly mode: UnknownRecipientMode;
  readonly separator: string;
  readonly observeMailbox: string | undefined;
  readonly listed: ReadonlySet<string>;
  readonly fromFile: ReadonlySet<string> | null;
  readonly glob: ((localPart: string) => string | null) | null;
}

export function compileDirectory(domains: readonly DomainFileConfig[], fileEntries: FileEntries): RecipientDirectory {
  const compiled = new Map<string, CompiledDomain>();
  for (const d of domains) {
    const listed = new Set<string>();
    const globs: string[] = [];
    for (const r of d.recipients) {
      if (isGlob(r)) globs.push(r);
      else listed.add(r.toLowerCase());
    }
    const file = fileEntries.get(d.name);
    let fromFile: Set<string> | null = new Set();
    if (d.recipientsFile !== undefined) {
      if (file === null || file === undefined) fromFile = null;
      else
        for (const e of file) {
          if (isGlob(e)) globs.push(e);
          else fromFile.add(e);
        }
    }
    compiled.set(d.name, {
      mode: d.unknownRecipients,
      separator: d.subaddressSeparator,
      observeMailbox: d.observeMailbox,
      listed,
      fromFile,
      glob: compileGlobs(globs),
    });
  }
  const primaryDomain = domains[0]?.name ?? '';

  return {
    primaryDomain,
    isServed: (domain) => compiled.has(domain),
    lookup(domain, localPart) {
      const d = compiled.get(domain);
      if (!d) return { kind: 'not-served' };
      const lower = localPart.toLowerCase();
      const sep = d.separator ? lower.indexOf(d.separator) : -1;
      const base = sep > 0 ? lower.slice(0, sep) : lower;
      if (base === 'postmaster') return { kind: 'known', matchedBy: 'postmaster', mailbox: 'postmaster' };
      // the full local-part first, so an entry such as `alice+orders` can be its own mailbox
      for (const candidate of base === lower ? [lower] : [lower, base]) {
        if (d.listed.has(candidate)) return { kind: 'known', matchedBy: 'listed', mailbox: candidate };
        if (d.fromFile?.has(candidate)) return { kind: 'known', matchedBy: 'file', mailbox: candidate };
        if (d.glob?.(candidate)) return { kind: 'known', matchedBy: 'glob', mailbox: candidate };
      }
      if (d.fromFile === null) return { kind: 'unavailable', reason: 'recipients file not loaded' };
      return { kind: 'unknown', mode: d.mode, observeMailbox: d.observeMailbox };
    },
  };
}
