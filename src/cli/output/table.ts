// Plain-text tables for the terminal: aligned columns within a width, long cells cut with "…". Pure.
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
}

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
  while (total() > maxWidth) {
    let widest = -1;
    const tier = (i: number): number => columns[i]?.shrink ?? 0;
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
 * Header row, then one line per row; cells are made terminal-safe (cli/output.ts) and cut to their
 * column. No trailing spaces.
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  maxWidth: number = DEFAULT_TABLE_WIDTH,
): string {
  const cells = rows.map((r) => columns.map((_, i) => terminalText(r[i] ?? '')));
  // a loop, not Math.max(...cells): spreading 130,000 rows into arguments overflows the call stack
  const natural = columns.map((c, i) =>
    cells.reduce((w, r) => Math.max(w, textWidth(r[i] ?? '')), textWidth(c.header)),
  );
  const widths = fitWidths(columns, natural, maxWidth);
  const line = (r: readonly string[]): string =>
    columns
      .map((c, i) => pad(truncate(r[i] ?? '', widths[i] ?? 0), widths[i] ?? 0, c.alignRight ?? false))
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}
