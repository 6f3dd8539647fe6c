// directory/recipients-file: address rules written in the recipients file (#12) and every line it
// refuses, with its line number (#15): the same rules, checked by the same schema, as domains[].addresses.
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { DomainFileConfig } from '../../src/config/schema.js';
import { compileDirectory } from '../../src/directory/directory.js';
import {
  describeLineErrors,
  parseRecipientsFile,
  type FileDomain,
  type RecipientsList,
} from '../../src/directory/recipients-file.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';

const DOMAIN: FileDomain = { name: 'example.test' };
const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`);

function list(text: string, domain: FileDomain = DOMAIN): RecipientsList {
  const r = parseRecipientsFile(text, domain);
  if (!r.ok) throw new Error(`expected the file to parse, got ${JSON.stringify(r.errors)}`);
  return r.list;
}

describe('rule lines', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['reject', 'old-shop   reject', { address: 'old-shop', action: 'reject' }],
    ['moved', 'jane moved jane@new.example', { address: 'jane', action: 'moved', to: 'jane@new.example' }],
    ['defer', 'press defer 2027-01-15', { address: 'press', action: 'defer', until: day('2027-01-15') }],
    [
      'defer with a time',
      'press defer 2027-01-15T12:00:00Z',
      { address: 'press', action: 'defer', until: Date.parse('2027-01-15T12:00:00Z') },
    ],
    ['quarantine on a glob', 'leak-* quarantine', { address: 'leak-*', action: 'quarantine' }],
    ['accept spelled out', 'alice accept', { address: 'alice', action: 'accept' }],
    [
      'from alone is an accept rule',
      'hp-repair from=hp.example,*.hp.example',
      { address: 'hp-repair', action: 'accept', from: ['hp.example', '*.hp.example'] },
    ],
    [
      'ownerSince alone is an accept rule',
      'alice ownerSince=2019-04-01',
      { address: 'alice', action: 'accept', ownerSince: day('2019-04-01') },
    ],
    [
      'action and options in any order',
      'hp-repair ownerSince=2020-01-01 from=hp.example accept',
      { address: 'hp-repair', action: 'accept', from: ['hp.example'], ownerSince: day('2020-01-01') },
    ],
    [
      'ownerSince on a moved rule',
      'jane moved jane@new.example ownerSince=2019-04-01',
      { address: 'jane', action: 'moved', to: 'jane@new.example', ownerSince: day('2019-04-01') },
    ],
    [
      'words and option names are case-insensitive; the address is lower-cased',
      'Jane@Example.TEST  MOVED  Jane@New.Example',
      { address: 'jane', action: 'moved', to: 'Jane@New.Example' },
    ],
    ['tabs, a trailing comment', '\told-shop\treject\t# retired 2024', { address: 'old-shop', action: 'reject' }],
    [
      'OWNERSINCE= spelled in capitals',
      'alice OWNERSINCE=2019-04-01',
      { address: 'alice', action: 'accept', ownerSince: day('2019-04-01') },
    ],
  ])('%s', (_label, line, rule) => {
    expect(list(`${line}\n`)).toEqual({ recipients: [], rules: [{ line: 1, rule }] });
  });

  it('recipients and rules mixed, each rule with its line number', () => {
    const text = [
      '# example.test, exported nightly',
      'alice',
      'shop-*',
      '',
      'old-shop   reject',
      'jane       moved jane@new.example',
      'press      defer 2027-01-15   # until the relaunch',
      'leak-*     quarantine',
      'hp-repair  from=hp.example,*.hp.example',
      'alice      ownerSince=2019-04-01',
      'bob@example.test',
    ].join('\r\n');
    const r = list(text);
    expect(r.recipients).toEqual(['alice', 'shop-*', 'bob']);
    expect(r.rules.map((x) => [x.line, x.rule.address, x.rule.action])).toEqual([
      [5, 'old-shop', 'reject'],
      [6, 'jane', 'moved'],
      [7, 'press', 'defer'],
      [8, 'leak-*', 'quarantine'],
      [9, 'hp-repair', 'accept'],
      [10, 'alice', 'accept'],
    ]);
  });

  it('a full address of the file’s own domain in its Unicode form', () => {
    expect(list('jürgen@Bücher.test reject\nanna@xn--bcher-kva.test\n', { name: 'xn--bcher-kva.test' })).toEqual({
      recipients: ['anna'],
      rules: [{ line: 1, rule: { address: 'jürgen', action: 'reject' } }],
    });
  });
});

describe('lines refused, each with its line number and what was expected', () => {
  const ACTIONS = 'expected an action (accept, reject, moved, defer, quarantine) or an option (from=, ownerSince=)';
  it.each<[string, string, string]>([
    [
      'an address at another domain',
      'bob@other.example',
      '"bob@other.example": not an address at example.test, the domain this file belongs to',
    ],
    [
      'another domain on a rule line',
      'bob@other.example reject',
      '"bob@other.example": not an address at example.test, the domain this file belongs to',
    ],
    [
      'a subdomain is another domain',
      'bob@mail.example.test',
      '"bob@mail.example.test": not an address at example.test, the domain this file belongs to',
    ],
    ['no domain after "@"', 'bob@', '"bob@": not an address at example.test, the domain this file belongs to'],
    ['no local-part before "@"', '@example.test', '"@example.test": expected a local-part before "@"'],
    ['two "@"', 'a@b@example.test', '"a@b@example.test": expected a local-part without "@" or spaces'],
    ['a name with a space', 'alice smith', `"smith": ${ACTIONS}; a local-part has no spaces`],
    ['a misspelt action', 'old-shop rejct', `"rejct": ${ACTIONS}; a local-part has no spaces`],
    [
      'a local-part over 64 characters',
      'a'.repeat(65),
      `"${'a'.repeat(65)}": String must contain at most 64 character(s)`,
    ],
    [
      'moved without the new address',
      'jane moved',
      'moved: expected the new address after it (jane moved jane@new.example)',
    ],
    ['moved to a local-part', 'jane moved jane', 'moved jane: expected an address such as jane@new.example'],
    ['defer without a date', 'press defer', 'defer: expected a date after it (press defer 2027-01-15)'],
    [
      'defer followed by an option instead of a date',
      'press defer ownerSince=2020-01-01',
      'defer: expected a date after it (press defer 2027-01-15)',
    ],
    ['defer with no date', 'press defer soon', 'defer soon: expected a date such as 2027-01-15'],
    ['two actions', 'x reject quarantine', '"quarantine": a second action; one action a line'],
    ['from on a reject rule', 'x reject from=hp.example', 'from=hp.example: only with action accept'],
    ['from with nothing', 'x from=', 'from=: expected domains separated by commas (from=hp.example,*.hp.example)'],
    [
      'from with a bad domain',
      'x from=hp_example',
      'from=hp_example: expected a domain such as hp.example or *.hp.example',
    ],
    [
      'from with an empty item',
      'x from=a.example,,b.example',
      'from=a.example,,b.example: expected domains separated by commas (from=hp.example,*.hp.example)',
    ],
    ['from twice', 'x from=a.example from=b.example', 'from=: given twice; list the domains comma-separated'],
    ['ownerSince not a date', 'x ownerSince=yesterday', 'ownerSince=yesterday: expected a date such as 2027-01-15'],
    ['ownerSince twice', 'x ownerSince=2020-01-01 ownerSince=2021-01-01', 'ownerSince=: given twice'],
    ['an unknown option', 'x until=2027-01-15', '"until=": unknown option; expected from= or ownerSince='],
    ['a rule for postmaster', 'postmaster reject', 'postmaster is always known; no rule applies to it'],
    [
      'a rule for postmaster with a subaddress',
      'postmaster+x reject',
      'postmaster+x is postmaster with a subaddress: postmaster is always known; no rule applies to it',
    ],
    [
      'the same, as a full address in capitals',
      'PostMaster+Orders@example.test moved jane@new.example',
      'postmaster+orders is postmaster with a subaddress: postmaster is always known; no rule applies to it',
    ],
    [
      'a rule for a subaddress (rules match without it)',
      'alice+news reject',
      'rules match the local-part without its subaddress ("+…"), so a rule for alice+news never applies; write it for alice, or set subaddressSeparator: "" to match whole local-parts',
    ],
  ])('%s', (_label, line, message) => {
    // a good line before it, so the number is the bad line's and not always 1
    expect(parseRecipientsFile(`alice\n${line}\n`, DOMAIN)).toEqual({ ok: false, errors: [{ line: 2, message }] });
  });

  it('the domain’s own separator decides what a subaddress is', () => {
    const dash: FileDomain = { name: 'example.test', subaddressSeparator: '-' };
    const off: FileDomain = { name: 'example.test', subaddressSeparator: '' };
    expect(parseRecipientsFile('postmaster-x reject\n', dash)).toEqual({
      ok: false,
      errors: [
        {
          line: 1,
          message: 'postmaster-x is postmaster with a subaddress: postmaster is always known; no rule applies to it',
        },
      ],
    });
    // '+' is no separator there: postmaster+x and alice+news are local-parts of their own
    expect(parseRecipientsFile('postmaster+x reject\nalice+news reject\n', dash).ok).toBe(true);
    expect(parseRecipientsFile('postmaster+x reject\nalice+news reject\n', off).ok).toBe(true);
    expect(parseRecipientsFile('postmaster reject\n', off).ok).toBe(false);
    // a separator at the start belongs to the local-part; a glob before it may match nothing
    expect(parseRecipientsFile('+x reject\n*+x reject\n', DOMAIN).ok).toBe(true);
  });

  it('a second rule for one address names the line of the first', () => {
    expect(parseRecipientsFile('jane moved jane@new.example\n# later\nJANE reject\n', DOMAIN)).toEqual({
      ok: false,
      errors: [{ line: 3, message: 'JANE: line 1 already has a rule for jane; one rule an address' }],
    });
  });

  it('a rule for an address the YAML already rules on is refused: one place per address', () => {
    const domain: FileDomain = { name: 'example.test', addresses: [{ address: 'Jane' }, { address: 'leak-*' }] };
    expect(parseRecipientsFile('jane moved jane@new.example\nleak-* reject\nleak-1 reject\njane\n', domain)).toEqual({
      ok: false,
      errors: [
        {
          line: 1,
          message: 'jane: domains[].addresses already has a rule for jane; give an address its rule in one place',
        },
        {
          line: 2,
          message: 'leak-*: domains[].addresses already has a rule for leak-*; give an address its rule in one place',
        },
      ],
    });
  });

  it('every bad line is reported, not only the first; the good ones do not make the file valid', () => {
    const r = parseRecipientsFile('alice\nbob@other.example\ncarol\nalice smith\n\njane moved\n', DOMAIN);
    expect(r.ok ? [] : r.errors.map((e) => e.line)).toEqual([2, 4, 6]);
  });

  it('describeLineErrors: FILE:LINE: message, at most max of them and a count of the rest', () => {
    const errors = [2, 4, 6].map((line) => ({ line, message: `bad ${line}` }));
    expect(describeLineErrors('/etc/cg/example.test.recipients', errors, 2)).toEqual([
      '/etc/cg/example.test.recipients:2: bad 2',
      '/etc/cg/example.test.recipients:4: bad 4',
      '/etc/cg/example.test.recipients: … and 1 more',
    ]);
    expect(describeLineErrors('f', errors)).toEqual(['f:2: bad 2', 'f:4: bad 4', 'f:6: bad 6']);
  });
});

describe('file rules in the directory (SPEC §4 order of the checks)', () => {
  const FILE = '/cfg/example.test.recipients';
  const yaml: DomainFileConfig = {
    name: 'example.test',
    unknownRecipients: 'reject',
    recipients: ['alice', 'shop-*'],
    recipientsFile: FILE,
    subaddressSeparator: '+',
    addresses: [{ address: 'l*', action: 'quarantine' }],
  };
  const file = list(
    [
      'carol',
      'shop-old reject',
      'jane moved jane@new.example',
      'leak-* reject',
      'lost accept',
      'alice ownerSince=2019-04-01',
    ].join('\n'),
  );
  const dir = compileDirectory([yaml], new Map([['example.test', file]]));
  const ruleOf = (local: string): string => {
    const a = dir.lookup('example.test', local);
    return a.kind === 'rule' ? `${a.rule.pattern}:${a.rule.action}:${a.rule.source ?? 'yaml'}` : a.kind;
  };

  it.each<[string, string]>([
    ['shop-old', `shop-old:reject:${FILE}:2`], // a file rule wins over the YAML glob shop-*
    ['Jane+news', `jane:moved:${FILE}:3`], // without the subaddress, case-insensitively
    ['leak-1', `l*:quarantine:yaml`], // the YAML's globs are written first
    ['lost', `lost:accept:${FILE}:5`], // an exact rule before any glob, wherever written
    ['carol', 'known'],
    ['shop-new', 'known'],
    ['nobody', 'unknown'],
  ])('%s → %s', (local, expected) => {
    expect(ruleOf(local)).toBe(expected);
  });

  it('a file rule’s ownerSince is the mailbox’s (RFC 7293)', () => {
    expect(dir.ownership('example.test', 'alice')).toEqual({ mailboxMs: day('2019-04-01') });
  });

  it('while the file is not loaded its rules are gone too: unknown local-parts are unavailable', () => {
    const down = compileDirectory([yaml], new Map([['example.test', null]]));
    expect(down.lookup('example.test', 'jane')).toEqual({ kind: 'unavailable', reason: 'recipients file not loaded' });
    expect(down.lookup('example.test', 'leak-1').kind).toBe('rule');
  });
});

describe('scale', () => {
  it('100,000 lines (100 of them rules) parse in well under two seconds', () => {
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(i % 1000 === 0 ? `old${i} moved user${i}@new.example` : `user${i}`);
    const started = performance.now();
    const r = list(lines.join('\n'));
    const ms = performance.now() - started;
    console.log(`recipients file: 100000 lines (100 rules) parsed in ${ms.toFixed(1)} ms`);
    expect([r.recipients.length, r.rules.length]).toEqual([99_900, 100]);
    expect(ms).toBeLessThan(2000);
  });
});

describe('the YAML recipients refuse the same junk, by key path', () => {
  it('a rule for postmaster with a subaddress, or for any subaddress, names its key path; not with the separator off', () => {
    const site = writeConfig(
      baseConfig({
        domains: [
          {
            name: 'example.test',
            addresses: [
              { address: 'postmaster+x', action: 'reject' },
              { address: 'alice+news', action: 'reject' },
            ],
          },
          {
            name: 'other.test',
            subaddressSeparator: '',
            addresses: [{ address: 'postmaster+x', action: 'reject' }],
          },
        ],
      }),
    );
    try {
      expect(loadConfig({ configPath: site.configPath, env: {} })).toEqual({
        ok: false,
        issues: [
          {
            path: 'domains[0].addresses[0].address',
            message: 'postmaster+x is postmaster with a subaddress: postmaster is always known; no rule applies to it',
          },
          {
            path: 'domains[0].addresses[1].address',
            message:
              'rules match the local-part without its subaddress ("+…"), so a rule for alice+news never applies; write it for alice, or set subaddressSeparator: "" to match whole local-parts',
          },
        ],
      });
    } finally {
      rmSync(site.dir, { recursive: true, force: true });
    }
  });

  it('an address at another domain, a name with a space, a rule for postmaster', () => {
    const site = writeConfig(
      baseConfig({
        domains: [
          {
            name: 'example.test',
            recipients: ['alice', 'bob@other.example', 'alice smith'],
            addresses: [{ address: 'PostMaster', action: 'reject' }],
          },
        ],
      }),
    );
    try {
      expect(loadConfig({ configPath: site.configPath, env: {} })).toEqual({
        ok: false,
        issues: [
          { path: 'domains[0].recipients[1]', message: 'expected a local-part without "@" or spaces' },
          { path: 'domains[0].recipients[2]', message: 'expected a local-part without "@" or spaces' },
          { path: 'domains[0].addresses[0].address', message: 'postmaster is always known; no rule applies to it' },
        ],
      });
    } finally {
      rmSync(site.dir, { recursive: true, force: true });
    }
  });
});
