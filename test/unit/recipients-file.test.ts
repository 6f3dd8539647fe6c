// directory/recipients-file: the text of a recipients file → its entries (SPEC §3). Rule lines and
// every error line: recipients-file-rules.test.ts.
import { describe, expect, it } from 'vitest';
import { parseRecipientsFile as parse } from '../../src/directory/recipients-file.js';

/** The plain entries of a file of example.test that must parse. */
function parseRecipientsFile(text: string): readonly string[] {
  const r = parse(text, { name: 'example.test' });
  if (!r.ok) throw new Error(`expected the file to parse, got ${JSON.stringify(r.errors)}`);
  expect(r.list.rules).toEqual([]);
  return r.list.recipients;
}

describe('parseRecipientsFile', () => {
  it.each<[string, string, string[]]>([
    ['one entry a line', 'alice\nbob\n', ['alice', 'bob']],
    ['no final newline', 'alice\nbob', ['alice', 'bob']],
    ['empty file', '', []],
    ['only comments and blank lines', '# header\n\n   \n\t\n# another\n', []],
    ['full-line comments', '# known recipients\nalice\n# bob left\ncarol\n', ['alice', 'carol']],
    ['trailing comments', 'alice # the owner\nbob#no space\n', ['alice', 'bob']],
    ['blank lines', '\n\nalice\n\n\nbob\n\n', ['alice', 'bob']],
    ['CRLF line ends', 'alice\r\nbob\r\n# c\r\n\r\ncarol\r\n', ['alice', 'bob', 'carol']],
    ['mixed line ends', 'alice\r\nbob\ncarol', ['alice', 'bob', 'carol']],
    ['surrounding whitespace', '  alice  \n\tbob\t\n', ['alice', 'bob']],
    ['case folded', 'Alice\nBOB\nShop-*\n', ['alice', 'bob', 'shop-*']],
    ['full addresses keep the local-part', 'alice@example.test\nBob@Example.TEST\n', ['alice', 'bob']],
    ['globs kept as written', 'shop-*\nteam?\n', ['shop-*', 'team?']],
    ['subaddress entries kept whole', 'alice+orders\n', ['alice+orders']],
    ['Unicode local-part', 'jürgen\n', ['jürgen']],
    ['UTF-8 byte order mark at the start', '\uFEFFalice\nbob\n', ['alice', 'bob']],
  ])('%s', (_label, text, entries) => {
    expect(parseRecipientsFile(text)).toEqual(entries);
  });

  it('a lone "@" prefix is an error naming the line, not an entry', () => {
    expect(parse('alice\n@example.test\n', { name: 'example.test' })).toEqual({
      ok: false,
      errors: [{ line: 2, message: '"@example.test": expected a local-part before "@"' }],
    });
  });

  it('handles a large file', () => {
    const lines: string[] = [];
    for (let i = 0; i < 50_000; i++) lines.push(i % 10 === 0 ? `# group ${i}` : `User${i}@Example.test`);
    const entries = parseRecipientsFile(lines.join('\r\n'));
    // every non-comment line, in order, as its lower-cased local-part: user1 … user9, user11 …, 45,000 in all
    const expected: string[] = [];
    for (let i = 1; i < 50_000; i++) if (i % 10 !== 0) expected.push(`user${i}`);
    expect(expected).toHaveLength(45_000);
    expect(entries).toEqual(expected);
  });
});
