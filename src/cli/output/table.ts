// Plain-text tables for the terminal: aligned columns within a width, long cells cut with "…", except in
// `whole` columns (addresses: an operator copies them into the recipients file, and a cut address can
// be taken for another one). Pure.
import { terminalText } from './text.js';

export interface Column {
  readonly header: string;
  /** Right-aligned (numbers). */
  readonly alignRight?: boolean;
  /**
   * May be narrowed below its natural width to make the table fit, never below `minWidth`. Columns of
   * the highest value give way first (the widest of them each step); equal values share the cut.
   */
  readonly shrink?: number;
  readonly minWidth?: number;
  /**
   * Never cut, never narrowed: the table grows wider instead. A list cell in such a column is
   * written one item per line, so the column is as wide as its longest item, not its longest list.
   */
  readonly whole?: boolean;
}

/** One text, or a list of items written one per line (the other cells of the row stay on its first line). */
export type Cell = string | readonly string[];

export const DEFAULT_TABLE_WIDTH = 100;
const GAP = '  ';
const ELLIPSIS = '…';

/** Length in code points, so that an emoji or a character outside the BMP counts once. */
export function textWidth(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export function truncate(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  if (width <= 0) return '';
  return `${[...text].slice(0, width - 1).join('')}${ELLIPSIS}`;
}

function pad(text: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - textWidth(text)));
  return right ? fill + text : text + fill;
}

/** Column widths: natural widths, then shrinkable columns narrowed a character at a time until the row fits. */
export function fitWidths(columns: readonly Column[], natural: readonly number[], maxWidth: number): number[] {
  const widths = [...natural];
  const total = (): number => widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
  const floor = (i: number): number =>
    Math.min(natural[i] ?? 0, columns[i]?.minWidth ?? Math.max(4, textWidth(columns[i]?.header ?? '')));
  // a whole column never gives way, whatever its shrink says
  const tier = (i: number): number => (columns[i]?.whole ? 0 : (columns[i]?.shrink ?? 0));
  while (total() > maxWidth) {
    let widest = -1;
    widths.forEach((w, i) => {
      if (tier(i) <= 0 || w <= floor(i)) return;
      if (widest < 0 || tier(i) > tier(widest) || (tier(i) === tier(widest) && w > (widths[widest] ?? 0))) widest = i;
    });
    if (widest < 0) break; // nothing left to shrink: the table is as narrow as it gets
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return widths;
}

/**
 * A cell as the lines it occupies: a list one item per line in a whole column; elsewhere joined with
 * ", " on one line (to be cut like any text).
 */
function cellLines(cell: Cell | undefined, column: Column): string[] {
  if (cell === undefined) return [''];
  if (typeof cell === 'string') return [terminalText(cell)];
  if (!column.whole) return [terminalText(cell.join(', '))];
  return cell.length === 0 ? [''] : cell.map((item) => terminalText(item));
}

/**
 * Header row, then each row on one line, or on as many as its longest list cell; cells are made
 * terminal-safe (output/text.ts) and cut to their column unless the column is whole. No trailing spaces.
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly Cell[])[],
  maxWidth: number = DEFAULT_TABLE_WIDTH,
): string {
  const cells = rows.map((r) => columns.map((c, i) => cellLines(r[i], c)));
  // loops, not Math.max(...cells): spreading 130,000 rows into arguments overflows the call stack
  const natural = columns.map((c, i) =>
    cells.reduce((w, r) => (r[i] ?? []).reduce((v, item) => Math.max(v, textWidth(item)), w), textWidth(c.header)),
  );
  const widths = fitWidths(columns, natural, maxWidth);
  const line = (r: readonly string[]): string =>
    columns
      .map((c, i) => {
        const w = widths[i] ?? 0;
        const text = r[i] ?? '';
        return pad(c.whole ? text : truncate(text, w), w, c.alignRight ?? false);
      })
      .join(GAP)
      .trimEnd();
  const out = [line(columns.map((c) => c.header))];
  for (const r of cells) {
    const height = r.reduce((h, lines) => Math.max(h, lines.length), 1);
    for (let k = 0; k < height; k++) out.push(line(r.map((lines) => lines[k] ?? '')));
  }
  return out.join('\n');
}
