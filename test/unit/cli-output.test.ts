// The one terminal-escaping function of the command line, and its JSON writer (src/cli/output.ts).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { terminalJson, terminalText, writeJson } from '../../src/cli/output/text.js';

async function written(value: unknown): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeJson(value, out);
  return Buffer.concat(chunks).toString('utf8');
}

describe('terminalText', () => {
  it.each([
    ['jane\u202e@example.test', 'jane<U+202E>@example.test'],
    [
      '\u202aa\u202bb\u202cc\u202dd\u2066e\u2067f\u2068g\u2069h\u200ei\u200fj\u061ck',
      '<U+202A>a<U+202B>b<U+202C>c<U+202D>d<U+2066>e<U+2067>f<U+2068>g<U+2069>h<U+200E>i<U+200F>j<U+061C>k',
    ],
    ['\u001b[31mred\u001b[0m', '<U+001B>[31mred<U+001B>[0m'],
    ['a\u0000b\u007fc\u009bd\ufeffe', 'a<U+0000>b<U+007F>c<U+009B>d<U+FEFF>e'],
    ['two\r\nlines\tand\u2028more', 'two lines and more'],
    ['lone \ud800 surrogate', 'lone <U+D800> surrogate'],
    ['Grüße 😀 日本 עברית', 'Grüße 😀 日本 עברית'],
    ['  spaces  kept  ', '  spaces  kept  '],
  ])('%j → %j', (input, expected) => {
    expect(terminalText(input)).toBe(expected);
  });

  it('cuts before escaping, so an escape is never cut in half', () => {
    expect(terminalText(`\u202e${'x'.repeat(100)}`, 10)).toBe(`<U+202E>${'x'.repeat(8)}…`);
    expect(terminalText('short', 10)).toBe('short');
  });
});

describe('terminalJson / writeJson', () => {
  const sample = {
    total: 3,
    empty: [],
    none: {},
    skipped: undefined,
    list: [{ a: 1, nested: { deep: [1, 2, { x: 'y' }] } }, 'text', null, undefined, [], { b: [] }],
    date: new Date('2026-11-23T10:00:00.000Z'),
    flag: false,
  };

  it('writes exactly what JSON.stringify(value, null, 2) writes, member by member', async () => {
    expect(await written(sample)).toBe(`${JSON.stringify(sample, null, 2)}\n`);
    for (const v of [[], {}, 'x', 7, null, [1, [2, [3]]]])
      expect(await written(v)).toBe(`${JSON.stringify(v, null, 2)}\n`);
    const big = { rows: Array.from({ length: 20_000 }, (_, i) => ({ rcpt: `guess${i}@example.test`, count: 1 })) };
    expect(await written(big)).toBe(`${JSON.stringify(big, null, 2)}\n`);
  });

  it('escapes the characters JSON.stringify leaves raw but a terminal acts on; the parsed value is unchanged', async () => {
    const value = {
      rcpt: 'jane\u202e@example.test',
      more: ['\u009b2J', '\u2066\u200f\u2028\ufeff\u007f'],
      ['key\u202e']: 1,
    };
    const expected = [
      '{',
      '  "rcpt": "jane\\u202e@example.test",',
      '  "more": [',
      '    "\\u009b2J",',
      '    "\\u2066\\u200f\\u2028\\ufeff\\u007f"',
      '  ],',
      '  "key\\u202e": 1',
      '}',
    ].join('\n');
    expect(terminalJson(value)).toBe(expected);
    expect(await written(value)).toBe(`${expected}\n`);
    for (const text of [terminalJson(value), await written(value)]) {
      expect(text).not.toMatch(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/);
      expect(JSON.parse(text)).toEqual(value);
    }
  });
});
