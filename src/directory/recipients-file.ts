// Text of a recipients file → its recipients and address rules, or every line that is wrong. Pure.
//
// One entry a line, `#` starts a comment:
//   ENTRY                              a known recipient (local-part or glob, or a full address of this domain)
//   ENTRY ACTION [ARG] [OPTION…]       an address rule, as in domains[].addresses
//   ENTRY OPTION…                      an accept rule with options
// ACTION: accept | reject | quarantine | moved ADDRESS | defer DATE
// OPTION: from=DOMAIN[,DOMAIN…] | ownerSince=DATE
// Rules are validated by the same schema as the YAML ones, so both mean exactly the same.
import { toAsciiDomain } from '../address/parse.js';
import { unreachableRuleProblem } from '../address/unreachable-rule.js';
import { issueFromZod } from '../config/issues.js';
import { addressRuleSchema, localPartPattern, type DomainFileConfig } from '../config/schema.js';

export type AddressRuleConfig = DomainFileConfig['addresses'][number];

/** An address rule written in the file, with the line it came from (for `check` and errors). */
export interface FileRule {
  readonly line: number;
  readonly rule: AddressRuleConfig;
}

export interface RecipientsList {
  /** Local-parts and globs, lower-cased, in file order. */
  readonly recipients: readonly string[];
  readonly rules: readonly FileRule[];
}

export interface LineError {
  readonly line: number;
  readonly message: string;
}

export type ParsedRecipientsFile =
  { readonly ok: true; readonly list: RecipientsList } | { readonly ok: false; readonly errors: readonly LineError[] };

/** What the parser needs of the domain the file belongs to. */
export interface FileDomain {
  /** The A-label form, as the loaded config holds it. */
  readonly name: string;
  /** The YAML rules: a file rule for the same address would be ambiguous. */
  readonly addresses?: readonly { readonly address: string }[];
  /** Rules match the local-part without what follows this ('' = off; default `+`): `alice+x` never would. */
  readonly subaddressSeparator?: string;
}

const ACTIONS = ['accept', 'reject', 'moved', 'defer', 'quarantine'] as const;
type Action = (typeof ACTIONS)[number];
const isAction = (word: string): word is Action => (ACTIONS as readonly string[]).includes(word);

const EXPECTED_WORD = `expected an action (${ACTIONS.join(', ')}) or an option (from=, ownerSince=); a local-part has no spaces`;

/** Zod's field → how the line spells it, for messages that point at the token the operator wrote. */
const FIELD_LABEL: Readonly<Record<string, string>> = {
  to: 'moved',
  until: 'defer',
  from: 'from=',
  ownerSince: 'ownerSince=',
};

interface RawRule {
  address: string;
  action?: Action;
  to?: string;
  until?: string;
  from?: string[];
  ownerSince?: string;
}

export function parseRecipientsFile(text: string, domain: FileDomain): ParsedRecipientsFile {
  const recipients: string[] = [];
  const rules: FileRule[] = [];
  const errors: LineError[] = [];
  const yamlRules = new Set((domain.addresses ?? []).map((r) => r.address.toLowerCase()));
  const ruleLine = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i] ?? '';
    const hash = raw.indexOf('#');
    const content = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (!content) continue;
    const fail = (message: string): void => {
      errors.push({ line: lineNo, message });
    };
    const [entry = '', ...words] = content.split(/\s+/);
    const local = localPartOf(entry, domain.name);
    if (typeof local !== 'string') {
      fail(local.error);
      continue;
    }
    if (words.length === 0) {
      recipients.push(local);
      continue;
    }
    const parsed = ruleOf(local, words);
    if ('error' in parsed) {
      fail(parsed.error);
      continue;
    }
    const checked = addressRuleSchema.safeParse(parsed.rule);
    if (!checked.success) {
      // one message a field: `from=a,,b` would otherwise say the same thing twice
      const said = new Set<string>();
      for (const issue of checked.error.issues.flatMap(issueFromZod)) {
        const field = issue.path.replace(/\[\d+\]$/, '');
        if (said.has(field)) continue;
        said.add(field);
        fail(fieldMessage(field, issue.message, parsed.rule));
      }
      continue;
    }
    const dead = unreachableRuleProblem(local, domain.subaddressSeparator ?? '+');
    if (dead !== null) {
      fail(dead);
      continue;
    }
    if (yamlRules.has(local)) {
      fail(`${entry}: domains[].addresses already has a rule for ${local}; give an address its rule in one place`);
      continue;
    }
    const first = ruleLine.get(local);
    if (first !== undefined) {
      fail(`${entry}: line ${first} already has a rule for ${local}; one rule an address`);
      continue;
    }
    ruleLine.set(local, lineNo);
    rules.push({ line: lineNo, rule: checked.data });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, list: { recipients, rules } };
}

/** The entry's local-part, lower-cased: a full address is accepted only at the file's own domain. */
function localPartOf(entry: string, domainName: string): string | { readonly error: string } {
  let local = entry;
  const at = entry.lastIndexOf('@');
  if (at >= 0) {
    local = entry.slice(0, at);
    if (!local) return { error: `"${entry}": expected a local-part before "@"` };
    const domain = entry.slice(at + 1);
    // the file belongs to one domain; an address elsewhere is a mistake, never silently this domain's
    if (!domain || toAsciiDomain(domain) !== domainName)
      return { error: `"${entry}": not an address at ${domainName}, the domain this file belongs to` };
  }
  const checked = localPartPattern.safeParse(local);
  if (!checked.success) return { error: `"${entry}": ${checked.error.issues[0]?.message ?? 'expected a local-part'}` };
  return local.toLowerCase();
}

/** The words after the entry → the rule as the YAML would spell it (validated by the caller). */
function ruleOf(local: string, words: readonly string[]): { readonly rule: RawRule } | { readonly error: string } {
  const rule: RawRule = { address: local };
  for (let w = 0; w < words.length; w++) {
    const word = words[w] ?? '';
    const lower = word.toLowerCase();
    if (isAction(lower)) {
      if (rule.action !== undefined) return { error: `"${word}": a second action; one action a line` };
      rule.action = lower;
      if (lower === 'moved' || lower === 'defer') {
        const arg = words[w + 1];
        if (arg === undefined || arg.includes('='))
          return {
            error:
              lower === 'moved'
                ? `moved: expected the new address after it (jane moved jane@new.example)`
                : `defer: expected a date after it (press defer 2027-01-15)`,
          };
        if (lower === 'moved') rule.to = arg;
        else rule.until = arg;
        w++;
      }
      continue;
    }
    const eq = word.indexOf('=');
    if (eq > 0) {
      const key = word.slice(0, eq).toLowerCase();
      const value = word.slice(eq + 1);
      if (key === 'from') {
        if (rule.from !== undefined) return { error: `from=: given twice; list the domains comma-separated` };
        if (value.split(',').includes(''))
          return { error: `from=${value}: expected domains separated by commas (from=hp.example,*.hp.example)` };
        rule.from = value.split(',');
        continue;
      }
      if (key === 'ownersince') {
        if (rule.ownerSince !== undefined) return { error: `ownerSince=: given twice` };
        rule.ownerSince = value;
        continue;
      }
      return { error: `"${word.slice(0, eq)}=": unknown option; expected from= or ownerSince=` };
    }
    return { error: `"${word}": ${EXPECTED_WORD}` };
  }
  return { rule };
}

/** A schema message about one field of the rule, led by the words of the line it is about. */
function fieldMessage(field: string, message: string, rule: RawRule): string {
  // the entry itself was checked before; what the schema still says of it names the address already
  if (field === 'address' || field === '(root)') return message;
  const value =
    field === 'to'
      ? rule.to
      : field === 'until'
        ? rule.until
        : field === 'from'
          ? rule.from?.join(',')
          : rule.ownerSince;
  const label = FIELD_LABEL[field] ?? `${field}=`;
  return `${label}${label.endsWith('=') ? '' : ' '}${value ?? ''}: ${message}`;
}

/** Errors as the operator reads them, `FILE:LINE: message`, at most `max` of them. */
export function describeLineErrors(file: string, errors: readonly LineError[], max = 20): string[] {
  const shown = errors.slice(0, max).map((e) => `${file}:${e.line}: ${e.message}`);
  if (errors.length > max) shown.push(`${file}: … and ${errors.length - max} more`);
  return shown;
}
