// What the command line prints of text from outside (addresses, subjects, log fields): made safe for a
// terminal, and visibly so. A sender controls these strings; a bidi override (U+202E) in an address
// makes `moc.knab@eve` read as `eve@bank.com`, an ESC starts a terminal escape sequence. Notices drop
// such characters (notice/sanitize.ts: a mail reader needs clean text); an operator needs to see that
// they were there, so here they become `<U+202E>`. Pure, except writeJson's output.
import type { Writable } from 'node:stream';
import { writeOut } from './stdout.js';

/** Line and paragraph breaks and tabs: layout, not deception. A run of them becomes one space. */
const LAYOUT = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;

/**
 * C0 and C1 controls and DEL; the bidi controls (LRM, RLM, ALM, the embeddings and overrides
 * U+202A–U+202E, the isolates U+2066–U+2069); BOM; and lone surrogates, which no terminal can show.
 */
const HIDDEN =
  /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const codePoint = (c: string): string => `<U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}>`;

/**
 * `text` on one terminal line: layout characters become a space, hidden and control characters their
 * visible `<U+XXXX>` form; everything else (letters of any script, emoji, spaces) stays as it is.
 * With `maxChars`, the text is cut (by code points, marked "…") before escaping, so an escape is never
 * cut in half.
 */
export function terminalText(text: string, maxChars?: number): string {
  let t = text;
  if (maxChars !== undefined && t.length > maxChars) {
    const chars = [...t.slice(0, maxChars * 2)];
    if (chars.length > maxChars) t = `${chars.slice(0, Math.max(0, maxChars - 1)).join('')}…`;
  }
  return t.replace(LAYOUT, ' ').replace(HIDDEN, codePoint);
}

/**
 * Inside JSON text, the characters JSON.stringify leaves raw although a terminal acts on them (DEL, C1,
 * bidi controls, U+2028/U+2029, BOM). They can only occur inside strings, so their `\uXXXX` form is the
 * same JSON value. C0 controls and lone surrogates JSON.stringify already escapes.
 */
const JSON_RAW = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const jsonEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON.stringify(value, null, 2), with every terminal-active character written as a `\u` escape. */
export function terminalJson(value: unknown): string {
  return (JSON.stringify(value, null, 2) ?? 'null').replace(JSON_RAW, jsonEscape);
}

/** Output is handed to stdout in pieces of about this size: a 150,000-entry report is never one string. */
const CHUNK_CHARS = 64 * 1024;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';

/**
 * Writes `terminalJson(value)` followed by a newline, byte for byte the same text, but the top two
 * levels of objects and arrays are written member by member, so the output is never held whole in
 * memory (a report of a dictionary attack lists hundreds of thousands of addresses).
 */
export async function writeJson(value: unknown, out: Writable = process.stdout): Promise<void> {
  let pending = '';
  const put = async (text: string): Promise<void> => {
    pending += text;
    if (pending.length >= CHUNK_CHARS) {
      const chunk = pending;
      pending = '';
      await writeOut(chunk, out);
    }
  };
  const leaf = (v: unknown, indent: string): string => terminalJson(v).replace(/\n/g, `\n${indent}`);

  const emit = async (v: unknown, indent: string, depth: number): Promise<void> => {
    if (depth >= 2 || !(Array.isArray(v) || isPlainObject(v))) {
      await put(leaf(v, indent));
      return;
    }
    const inner = `${indent}  `;
    // JSON.stringify leaves out object members it cannot represent and writes them as null in arrays
    const representable = (x: unknown): boolean => x !== undefined && typeof x !== 'function' && typeof x !== 'symbol';
    if (Array.isArray(v)) {
      if (v.length === 0) return put('[]');
      await put('[');
      for (let i = 0; i < v.length; i++) {
        await put(`${i === 0 ? '' : ','}\n${inner}`);
        const item: unknown = v[i];
        await emit(representable(item) ? item : null, inner, depth + 1);
      }
      return put(`\n${indent}]`);
    }
    const members = Object.entries(v).filter(([, x]) => representable(x));
    if (members.length === 0) return put('{}');
    await put('{');
    let first = true;
    for (const [key, x] of members) {
      await put(`${first ? '' : ','}\n${inner}${terminalJson(key)}: `);
      first = false;
      await emit(x, inner, depth + 1);
    }
    await put(`\n${indent}}`);
  };

  await emit(value, '', 0);
  await writeOut(`${pending}\n`, out);
}
