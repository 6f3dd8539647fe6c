// renderTable: whole columns (addresses) are never cut and write a list one item per line; other
// columns give way within the width and are cut with "…".
import { describe, expect, it } from 'vitest';
import { fitWidths, renderTable, type Column } from '../../src/cli/output/table.js';

const LONG = `${'jane.doe.with.a.very.long.local.part'}@${'my-domain-example'}.test`; // 59 characters
const SIXTY = `${'x'.repeat(47)}@example.test`;

describe('renderTable', () => {
  it('a whole column keeps a 60-character address and the table grows past the width instead', () => {
    expect(SIXTY).toHaveLength(60);
    const out = renderTable(
      [{ header: 'ID' }, { header: 'ADDRESS', whole: true }, { header: 'NOTE', shrink: 1, minWidth: 4 }],
      [['1', SIXTY, 'n'.repeat(80)]],
      40,
    );
    const lines = out.split('\n');
    expect(lines[1]).toBe(`1   ${SIXTY}  nnn…`);
    // 2 + 2 + 60 + 2 + 4: the other column went down to its minimum, the address stayed whole
    expect([...(lines[1] ?? '')].length).toBe(70);
  });

  it('a list cell in a whole column is written one item per line; the other cells stay on the first line', () => {
    const out = renderTable(
      [{ header: 'ID' }, { header: 'RECIPIENTS', whole: true }, { header: 'SUBJECT' }],
      [
        ['a1', [LONG, 'bob@example.test', 'c@example.test'], 'Invoice'],
        ['a2', ['solo@example.test'], 'Hi'],
        ['a3', [], 'none'],
      ],
    );
    expect(out).toBe(
      [
        `ID  RECIPIENTS${' '.repeat(LONG.length - 10)}  SUBJECT`,
        `a1  ${LONG}  Invoice`,
        `    bob@example.test`,
        `    c@example.test`,
        `a2  solo@example.test${' '.repeat(LONG.length - 17)}  Hi`,
        `a3  ${' '.repeat(LONG.length)}  none`,
      ].join('\n'),
    );
  });

  it('a list cell outside a whole column is joined with ", " and cut like any text', () => {
    const out = renderTable([{ header: 'LIST', shrink: 1, minWidth: 6 }], [[['alpha', 'beta', 'gamma']]], 10);
    expect(out.split('\n')[1]).toBe('alpha, be…');
  });

  it('list items are made terminal-safe one by one', () => {
    const out = renderTable([{ header: 'TO', whole: true }], [[['a\u202e@x.test', 'b\r\n@x.test']]]);
    expect(out.split('\n').slice(1)).toEqual(['a<U+202E>@x.test', 'b @x.test']);
  });
});

describe('fitWidths', () => {
  const cols: Column[] = [
    { header: 'A', whole: true, shrink: 5 },
    { header: 'B', shrink: 1, minWidth: 4 },
    { header: 'C', shrink: 2, minWidth: 4 },
  ];
  it.each([
    // natural widths, max width → widths: C gives way first, then B; A (whole) never, whatever its shrink
    [[10, 10, 10], 34, [10, 10, 10]],
    [[10, 10, 10], 30, [10, 10, 6]],
    [[10, 10, 10], 24, [10, 6, 4]],
    [[10, 10, 10], 10, [10, 4, 4]],
    [[60, 3, 3], 20, [60, 3, 3]],
  ])('%j within %i → %j', (natural, max, expected) => {
    expect(fitWidths(cols, natural, max)).toEqual(expected);
  });
});
