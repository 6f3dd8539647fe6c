// directory/recipients-file: the text of a recipients file → its entries (SPEC §3).
import { describe, expect, it } from 'vitest';
import { parseRecipientsFile } from '../../src/directory/recipients-file.js';

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

  it('does not treat a lone "@" prefix as an address', () => {
    expect(parseRecipientsFile('@example.test\n')).toEqual(['@example.test']);
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
