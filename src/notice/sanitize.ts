// Text from the original message that ends up in a notice (its Subject above all) is attacker-chosen:
// it must not break a header line, smuggle control or bidi characters, or grow without bound. Pure.

export const MAX_SUBJECT_CHARS = 200;

// RFC 2047 encoded word: =?charset?B|Q?text?=
const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeWord(charset: string, encoding: string, text: string): string | null {
  const bytes =
    encoding.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : Buffer.from(
          text
            .replace(/_/g, ' ')
            .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          'latin1',
        );
  try {
    // RFC 2231 language suffix: utf-8*en
    return new TextDecoder(charset.split('*')[0] ?? charset).decode(bytes);
  } catch {
    return null; // unknown charset: the word stays as it is and is defused below
  }
}

/**
 * The subject as stored was already decoded by the parser; an encoded word still in it is one the
 * sender wrote literally or one that did not decode. Decoding it here means no encoded word we pass on
 * can reveal a line break to the reader's program later.
 */
export function decodeEncodedWords(value: string): string {
  // whitespace between two adjacent encoded words is not part of the text (RFC 2047 §6.2)
  const joined = value.replace(/(\?=)\s+(?==\?)/g, '$1');
  return joined.replace(
    ENCODED_WORD,
    (word, charset: string, enc: string, text: string) => decodeWord(charset, enc, text) ?? word,
  );
}

// C0, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates, BOM / zero-width no-break
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** One line of plain, well-formed text, at most `maxChars` characters (an ellipsis marks a cut). */
export function sanitizeText(raw: string | null | undefined, maxChars: number = MAX_SUBJECT_CHARS): string {
  if (!raw) return '';
  // cap before the regex work: a 10 MB header line must not cost more than a short one
  const bounded = raw.length > maxChars * 8 ? raw.slice(0, maxChars * 8) : raw;
  const clean = decodeEncodedWords(bounded)
    .replace(LONE_SURROGATE, '?')
    .replace(/\ufffd+/g, '?') // bytes that were not valid in their charset
    .replace(UNSAFE, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...clean];
  if (chars.length <= maxChars) return clean;
  return `${chars
    .slice(0, maxChars - 1)
    .join('')
    .trimEnd()}…`;
}

export const sanitizeSubject = (raw: string | null | undefined): string => sanitizeText(raw, MAX_SUBJECT_CHARS);

/** A Message-ID fit to be repeated in In-Reply-To/References, or null. */
export function sanitizeMessageId(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const v = raw.trim();
  const withBrackets = v.startsWith('<') ? v : `<${v}>`;
  return /^<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>$/.test(withBrackets) ? withBrackets : null;
}
