// The set of known recipients of every served domain. Decides nothing about SMTP. Pure, no I/O.
import type { DomainFileConfig } from '../config/schema.js';
import { compileGlobs, isGlob } from './glob.js';
import type { RecipientsList } from './recipients-file.js';

export type UnknownRecipientMode = 'reject' | 'reject-after-data' | 'quarantine' | 'observe';

/** An address rule (SPEC §3 `domains[].addresses`), compiled. */
export interface AddressRule {
  /** As written: the local-part or glob, lower-cased. */
  readonly pattern: string;
  readonly action: 'accept' | 'reject' | 'moved' | 'defer' | 'quarantine';
  readonly to?: string | undefined;
  readonly untilMs?: number | undefined;
  /** RFC 7293: since when the present owner holds this mailbox. */
  readonly ownerSinceMs?: number | undefined;
  /** accept with `from`: whether an envelope sender domain may use the address. */
  readonly allowsSender?: ((domain: string) => boolean) | undefined;
  /** Where a rule from the recipients file was written (`FILE:LINE`); absent for the YAML's. */
  readonly source?: string | undefined;
}

export type DirectoryAnswer =
  | { readonly kind: 'not-served' }
  /** A rule decides (SPEC §4: before the listed recipients, globs and file); mode for when it falls back. */
  | {
      readonly kind: 'rule';
      readonly rule: AddressRule;
      readonly mailbox: string;
      readonly mode: UnknownRecipientMode;
      readonly observeMailbox: string | undefined;
    }
  | { readonly kind: 'known'; readonly matchedBy: 'postmaster' | 'listed' | 'glob' | 'file'; readonly mailbox: string }
  | { readonly kind: 'unknown'; readonly mode: UnknownRecipientMode; readonly observeMailbox: string | undefined }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface RecipientDirectory {
  /** O(1) for listed and file entries, O(patterns) for globs. `localPart` as received. */
  lookup(domain: string, localPart: string): DirectoryAnswer;
  isServed(domain: string): boolean;
  /** The first served domain: where a bare `RCPT TO:<postmaster>` goes. */
  readonly primaryDomain: string;
  /** RFC 7293: since when the present owners hold an address (its rule's ownerSince) and its domain. */
  ownership(domain: string, localPart: string): { readonly mailboxMs?: number; readonly domainMs?: number };
}

/** Recipients file lists per domain name; `null` means the file is configured but could not be read yet. */
export type FileEntries = ReadonlyMap<string, RecipientsList | null>;

interface CompiledDomain {
  readonly mode: UnknownRecipientMode;
  readonly separator: string;
  readonly observeMailbox: string | undefined;
  readonly listed: ReadonlySet<string>;
  readonly fromFile: ReadonlySet<string> | null;
  readonly glob: ((localPart: string) => string | null) | null;
  readonly exactRules: ReadonlyMap<string, AddressRule>;
  readonly ruleGlob: ((localPart: string) => string | null) | null;
  readonly globRules: ReadonlyMap<string, AddressRule>;
  readonly ownerSinceMs: number | undefined;
}

function compileRule(r: DomainFileConfig['addresses'][number], source?: string): AddressRule {
  const allowed = r.from ? compileGlobs(r.from.map((d) => d.toLowerCase())) : null;
  const exact = new Set((r.from ?? []).filter((d) => !isGlob(d)).map((d) => d.toLowerCase()));
  return {
    pattern: r.address.toLowerCase(),
    action: r.action,
    to: r.to,
    untilMs: r.until,
    ownerSinceMs: r.ownerSince,
    allowsSender: r.from ? (domain) => exact.has(domain) || allowed?.(domain) !== null : undefined,
    ...(source !== undefined ? { source } : {}),
  };
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
        for (const e of file.recipients) {
          if (isGlob(e)) globs.push(e);
          else fromFile.add(e);
        }
    }
    const exactRules = new Map<string, AddressRule>();
    const globRules = new Map<string, AddressRule>();
    // the YAML's rules are written before the file's: its globs are tried first, and validation
    // refuses a file rule for an address the YAML already rules on
    const fileRules = (d.recipientsFile !== undefined ? file?.rules : undefined) ?? [];
    const allRules = [
      ...d.addresses.map((r) => compileRule(r)),
      ...fileRules.map((r) => compileRule(r.rule, `${d.recipientsFile ?? ''}:${r.line}`)),
    ];
    for (const rule of allRules) {
      // the first rule for a pattern wins, as the first of several globs does
      if (isGlob(rule.pattern)) {
        if (!globRules.has(rule.pattern)) globRules.set(rule.pattern, rule);
      } else if (!exactRules.has(rule.pattern)) exactRules.set(rule.pattern, rule);
    }
    compiled.set(d.name, {
      ownerSinceMs: d.ownerSince,
      exactRules,
      globRules,
      ruleGlob: compileGlobs([...globRules.keys()]),
      mode: d.unknownRecipients,
      separator: d.subaddressSeparator,
      observeMailbox: d.observeMailbox,
      listed,
      fromFile,
      glob: compileGlobs(globs),
    });
  }
  const primaryDomain = domains[0]?.name ?? '';

  const ruleFor = (d: CompiledDomain, base: string): AddressRule | undefined => {
    const glob = d.ruleGlob?.(base) ?? null;
    return d.exactRules.get(base) ?? (glob === null ? undefined : d.globRules.get(glob));
  };
  const baseOf = (d: CompiledDomain, localPart: string): string => {
    const lower = localPart.toLowerCase();
    const sep = d.separator ? lower.indexOf(d.separator) : -1;
    return sep > 0 ? lower.slice(0, sep) : lower;
  };

  return {
    primaryDomain,
    isServed: (domain) => compiled.has(domain),
    ownership(domain, localPart) {
      const d = compiled.get(domain);
      if (!d) return {};
      const mailboxMs = ruleFor(d, baseOf(d, localPart))?.ownerSinceMs;
      return {
        ...(mailboxMs !== undefined ? { mailboxMs } : {}),
        ...(d.ownerSinceMs !== undefined ? { domainMs: d.ownerSinceMs } : {}),
      };
    },
    lookup(domain, localPart) {
      const d = compiled.get(domain);
      if (!d) return { kind: 'not-served' };
      const lower = localPart.toLowerCase();
      const sep = d.separator ? lower.indexOf(d.separator) : -1;
      const base = sep > 0 ? lower.slice(0, sep) : lower;
      if (base === 'postmaster') return { kind: 'known', matchedBy: 'postmaster', mailbox: 'postmaster' };
      // SPEC §4: rules match the local-part without its subaddress, an exact rule before the globs
      const rule = ruleFor(d, base);
      if (rule) return { kind: 'rule', rule, mailbox: base, mode: d.mode, observeMailbox: d.observeMailbox };
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
