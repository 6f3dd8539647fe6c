// directory: the set of known recipients per served domain (SPEC §2, §3), including a scale check.
import { describe, expect, it } from 'vitest';
import type { DomainFileConfig } from '../../src/config/schema.js';
import { compileDirectory, type DirectoryAnswer, type FileEntries } from '../../src/directory/directory.js';
import { compileGlobs, isGlob } from '../../src/directory/glob.js';
import type { RecipientsList } from '../../src/directory/recipients-file.js';

function domain(name: string, extra: Partial<DomainFileConfig> = {}): DomainFileConfig {
  return { name, unknownRecipients: 'reject', recipients: [], subaddressSeparator: '+', addresses: [], ...extra };
}

const noFiles: FileEntries = new Map();

/** A recipients file of plain entries, no rules. */
const listOf = (recipients: string[]): RecipientsList => ({ recipients, rules: [] });

/** What a reject-mode domain answers for a local-part it does not know. */
const UNKNOWN: DirectoryAnswer = { kind: 'unknown', mode: 'reject', observeMailbox: undefined };

describe('compileDirectory: listed and glob entries', () => {
  const dir = compileDirectory(
    [
      domain('example.test', { recipients: ['alice', 'Bob', 'shop-*', 'team?', 'a.b*', 'x+y'] }),
      domain('quarantine.test', { unknownRecipients: 'quarantine', recipients: ['alice'] }),
      domain('observe.test', {
        unknownRecipients: 'observe',
        recipients: ['alice'],
        observeMailbox: 'alice@observe.test',
      }),
    ],
    noFiles,
  );

  it.each<[string, DirectoryAnswer]>([
    ['alice', { kind: 'known', matchedBy: 'listed', mailbox: 'alice' }],
    ['ALICE', { kind: 'known', matchedBy: 'listed', mailbox: 'alice' }],
    ['bob', { kind: 'known', matchedBy: 'listed', mailbox: 'bob' }],
    ['shop-amazon', { kind: 'known', matchedBy: 'glob', mailbox: 'shop-amazon' }],
    ['SHOP-Amazon', { kind: 'known', matchedBy: 'glob', mailbox: 'shop-amazon' }],
    ['shop-', { kind: 'known', matchedBy: 'glob', mailbox: 'shop-' }],
    ['team1', { kind: 'known', matchedBy: 'glob', mailbox: 'team1' }],
    ['teamx', { kind: 'known', matchedBy: 'glob', mailbox: 'teamx' }],
    ['a.b', { kind: 'known', matchedBy: 'glob', mailbox: 'a.b' }],
    ['a.bcd', { kind: 'known', matchedBy: 'glob', mailbox: 'a.bcd' }],
    ['x+y', { kind: 'known', matchedBy: 'listed', mailbox: 'x+y' }],
  ])('%s is known: %j', (localPart, answer) => {
    expect(dir.lookup('example.test', localPart)).toEqual(answer);
  });

  it.each([
    ['carol'],
    ['shop'], // `shop-*` needs the dash
    ['shopx'],
    ['team'], // `?` is exactly one character
    ['team12'],
    ['axb'], // the dot of `a.b*` is literal, not a regex wildcard
    ['xxy'], // the plus of `x+y` is literal too
    ['alice.smith'],
    ['malice'],
  ])('%s is unknown', (localPart) => {
    expect(dir.lookup('example.test', localPart)).toEqual({
      kind: 'unknown',
      mode: 'reject',
      observeMailbox: undefined,
    });
  });

  it('unknown answers carry the domain mode and observe mailbox', () => {
    expect(dir.lookup('quarantine.test', 'nobody')).toEqual({
      kind: 'unknown',
      mode: 'quarantine',
      observeMailbox: undefined,
    });
    expect(dir.lookup('observe.test', 'nobody')).toEqual({
      kind: 'unknown',
      mode: 'observe',
      observeMailbox: 'alice@observe.test',
    });
  });

  it('a domain that is not listed is not served', () => {
    expect(dir.lookup('elsewhere.test', 'alice')).toEqual({ kind: 'not-served' });
    expect(dir.lookup('sub.example.test', 'alice')).toEqual({ kind: 'not-served' });
    expect(dir.isServed('example.test')).toBe(true);
    expect(dir.isServed('elsewhere.test')).toBe(false);
  });

  it('the primary domain is the first one', () => {
    expect(dir.primaryDomain).toBe('example.test');
  });
});

describe('compileDirectory: postmaster', () => {
  it.each(['postmaster', 'PostMaster', 'POSTMASTER', 'postmaster+bounces'])(
    '%s is always known, even with no recipients at all',
    (lp) => {
      const dir = compileDirectory([domain('empty.test')], noFiles);
      expect(dir.lookup('empty.test', lp)).toEqual({ kind: 'known', matchedBy: 'postmaster', mailbox: 'postmaster' });
    },
  );

  it('postmaster is known even while the recipients file is unavailable', () => {
    const dir = compileDirectory(
      [domain('file.test', { recipientsFile: '/x/file.test.recipients' })],
      new Map([['file.test', null]]),
    );
    expect(dir.lookup('file.test', 'postmaster')).toEqual({
      kind: 'known',
      matchedBy: 'postmaster',
      mailbox: 'postmaster',
    });
  });
});

describe('compileDirectory: subaddresses', () => {
  it.each<[string, string, DirectoryAnswer['kind'], string | undefined]>([
    // [separator, local-part, kind, mailbox]
    ['+', 'alice+news', 'known', 'alice'],
    ['+', 'ALICE+News', 'known', 'alice'],
    ['+', 'alice+', 'known', 'alice'],
    ['+', 'alice+a+b', 'known', 'alice'],
    ['+', 'alice-news', 'unknown', undefined],
    ['+', '+alice', 'unknown', undefined],
    ['+', 'carol+news', 'unknown', undefined],
    ['-', 'alice-news', 'known', 'alice'],
    ['-', 'alice+news', 'unknown', undefined],
    ['', 'alice+news', 'unknown', undefined],
    ['', 'alice-news', 'unknown', undefined],
    ['', 'alice', 'known', 'alice'],
  ])('separator %j: %s → %s %s', (sep, lp, kind, mailbox) => {
    const dir = compileDirectory(
      [domain('example.test', { recipients: ['alice'], subaddressSeparator: sep })],
      noFiles,
    );
    expect(dir.lookup('example.test', lp)).toEqual(kind === 'known' ? { kind, matchedBy: 'listed', mailbox } : UNKNOWN);
  });

  it('a full local-part entry such as alice+orders is its own mailbox, found before the base', () => {
    const dir = compileDirectory([domain('example.test', { recipients: ['alice', 'alice+orders'] })], noFiles);
    expect(dir.lookup('example.test', 'alice+orders')).toEqual({
      kind: 'known',
      matchedBy: 'listed',
      mailbox: 'alice+orders',
    });
    expect(dir.lookup('example.test', 'Alice+Orders')).toEqual({
      kind: 'known',
      matchedBy: 'listed',
      mailbox: 'alice+orders',
    });
    expect(dir.lookup('example.test', 'alice+news')).toEqual({ kind: 'known', matchedBy: 'listed', mailbox: 'alice' });
  });

  it('a full local-part entry works without its base being known', () => {
    const dir = compileDirectory([domain('example.test', { recipients: ['alice+orders'] })], noFiles);
    expect(dir.lookup('example.test', 'alice+orders')).toEqual({
      kind: 'known',
      matchedBy: 'listed',
      mailbox: 'alice+orders',
    });
    expect(dir.lookup('example.test', 'alice')).toEqual(UNKNOWN);
    expect(dir.lookup('example.test', 'alice+news')).toEqual(UNKNOWN);
  });

  it('the full local-part is tried against a file entry before the base matches a listed entry', () => {
    const dir = compileDirectory(
      [domain('example.test', { recipients: ['alice'], recipientsFile: '/x/r' })],
      new Map([['example.test', listOf(['alice+orders'])]]),
    );
    expect(dir.lookup('example.test', 'alice+orders')).toEqual({
      kind: 'known',
      matchedBy: 'file',
      mailbox: 'alice+orders',
    });
  });

  it('a subaddress of a glob match is known by the glob', () => {
    const dir = compileDirectory([domain('example.test', { recipients: ['shop-*'] })], noFiles);
    // the whole local-part is tried first, and shop-* matches it as it is
    expect(dir.lookup('example.test', 'shop-x+y')).toEqual({ kind: 'known', matchedBy: 'glob', mailbox: 'shop-x+y' });
  });
});

describe('compileDirectory: recipients file entries', () => {
  const withFile = domain('example.test', { recipients: ['alice'], recipientsFile: '/cfg/example.test.recipients' });

  it('file entries and file globs are known', () => {
    const dir = compileDirectory([withFile], new Map([['example.test', listOf(['carol', 'dept-*'])]]));
    expect(dir.lookup('example.test', 'carol')).toEqual({ kind: 'known', matchedBy: 'file', mailbox: 'carol' });
    expect(dir.lookup('example.test', 'CAROL+x')).toEqual({ kind: 'known', matchedBy: 'file', mailbox: 'carol' });
    expect(dir.lookup('example.test', 'dept-sales')).toEqual({
      kind: 'known',
      matchedBy: 'glob',
      mailbox: 'dept-sales',
    });
    expect(dir.lookup('example.test', 'alice')).toEqual({ kind: 'known', matchedBy: 'listed', mailbox: 'alice' });
    expect(dir.lookup('example.test', 'dave')).toEqual(UNKNOWN);
  });

  it.each<[string, FileEntries]>([
    ['null (configured but never read)', new Map([['example.test', null]])],
    ['missing from the map', new Map()],
  ])('file entries %s → unknown local-parts are unavailable, listed ones still known', (_label, files) => {
    const dir = compileDirectory([withFile], files);
    expect(dir.lookup('example.test', 'dave')).toEqual({ kind: 'unavailable', reason: 'recipients file not loaded' });
    expect(dir.lookup('example.test', 'alice')).toEqual({ kind: 'known', matchedBy: 'listed', mailbox: 'alice' });
    expect(dir.lookup('elsewhere.test', 'dave')).toEqual({ kind: 'not-served' });
  });

  it('an unavailable file of one domain does not affect another', () => {
    const dir = compileDirectory([withFile, domain('other.test')], new Map([['example.test', null]]));
    expect(dir.lookup('other.test', 'dave')).toEqual(UNKNOWN);
  });

  it('an empty file is loaded, not unavailable', () => {
    const dir = compileDirectory([withFile], new Map([['example.test', listOf([])]]));
    expect(dir.lookup('example.test', 'dave')).toEqual(UNKNOWN);
  });
});

describe('glob helpers', () => {
  it.each<[string, boolean]>([
    ['shop-*', true],
    ['team?', true],
    ['alice', false],
    ['a.b+c', false],
  ])('isGlob(%j) = %s', (g, yes) => {
    expect(isGlob(g)).toBe(yes);
  });

  it('compileGlobs returns null for no patterns and the matching pattern otherwise', () => {
    expect(compileGlobs([])).toBeNull();
    const m = compileGlobs(['Shop-*', 'team?', '(x)*']);
    expect(m?.('shop-a')).toBe('shop-*');
    expect(m?.('team7')).toBe('team?');
    expect(m?.('(x)yz')).toBe('(x)*');
    expect(m?.('x')).toBeNull();
    expect(m?.('line\nbreak')).toBeNull();
  });
});

describe('compileDirectory at scale', () => {
  it('100,000 file entries + 50 globs: 100,000 lookups answer correctly', () => {
    const N = 100_000;
    const entries: string[] = [];
    for (let i = 0; i < N; i++) entries.push(`user${i}`);
    for (let g = 0; g < 50; g++) entries.push(`dept${g}-*`);
    const built = performance.now();
    const dir = compileDirectory(
      [domain('example.test', { recipients: ['alice'], recipientsFile: '/cfg/r' }), domain('other.test')],
      new Map([['example.test', listOf(entries)]]),
    );
    const compiledMs = performance.now() - built;

    const counts = { file: 0, glob: 0, unknown: 0, wrong: 0 };
    const started = performance.now();
    for (let i = 0; i < N; i++) {
      switch (i % 4) {
        case 0: {
          const a = dir.lookup('example.test', `User${(i * 7919) % N}+tag`);
          if (a.kind === 'known' && a.matchedBy === 'file' && a.mailbox === `user${(i * 7919) % N}`) counts.file++;
          else counts.wrong++;
          break;
        }
        case 1: {
          const a = dir.lookup('example.test', `dept${i % 50}-x${i}`);
          if (a.kind === 'known' && a.matchedBy === 'glob') counts.glob++;
          else counts.wrong++;
          break;
        }
        case 2: {
          const a = dir.lookup('example.test', `user${N + i}`);
          if (a.kind === 'unknown') counts.unknown++;
          else counts.wrong++;
          break;
        }
        default: {
          const a = dir.lookup('example.test', `dept${50 + (i % 50)}-x`);
          if (a.kind === 'unknown') counts.unknown++;
          else counts.wrong++;
        }
      }
    }
    const elapsedMs = performance.now() - started;
    console.log(
      `directory scale: compile ${compiledMs.toFixed(1)} ms, 100000 lookups ${elapsedMs.toFixed(1)} ms (${((elapsedMs * 1000) / N).toFixed(2)} µs each)`,
    );
    expect(counts).toEqual({ file: N / 4, glob: N / 4, unknown: N / 2, wrong: 0 });
  });
});

describe('address rules (SPEC §3 domains[].addresses, §4 order of the checks)', () => {
  const rules = [
    { address: 'shop-old', action: 'reject' as const },
    { address: 'jane', action: 'moved' as const, to: 'jane@new.test' },
    { address: 'leak-*', action: 'quarantine' as const },
    { address: 'l*', action: 'reject' as const },
    { address: 'hp-repair', action: 'accept' as const, from: ['hp.example', '*.hp.example'] },
    { address: 'postmaster', action: 'reject' as const },
  ];
  const dir = compileDirectory(
    [domain('example.test', { recipients: ['alice', 'shop-*', 'jane'], addresses: rules })],
    noFiles,
  );
  const ruleOf = (local: string): string | null => {
    const a = dir.lookup('example.test', local);
    return a.kind === 'rule' ? `${a.rule.pattern}:${a.rule.action}:${a.mailbox}` : a.kind;
  };

  it.each<[string, string | null]>([
    ['shop-old', 'shop-old:reject:shop-old'], // a rule wins over the glob shop-* that would accept it
    ['shop-new', 'known'], // no rule: the glob
    ['jane', 'jane:moved:jane'], // a rule wins over the listed recipient
    ['Jane+news', 'jane:moved:jane'], // matched without the subaddress, case-insensitively
    ['leak-42', 'leak-*:quarantine:leak-42'], // globs in the order written: leak-* before l*
    ['lost', 'l*:reject:lost'],
    ['alice', 'known'],
    ['nobody', 'unknown'],
    ['postmaster', 'known'], // always known: no rule applies to it
  ])('%s → %s', (local, expected) => {
    expect(ruleOf(local)).toBe(expected);
  });

  it('a from binding matches the sender domain exactly or by its glob', () => {
    const a = dir.lookup('example.test', 'hp-repair');
    if (a.kind !== 'rule' || !a.rule.allowsSender) throw new Error(`expected a bound rule, got ${JSON.stringify(a)}`);
    expect(['hp.example', 'mail.hp.example', 'hp.example.evil', 'evil.test'].map(a.rule.allowsSender)).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});
