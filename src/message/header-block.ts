// Where a message's header block ends (RFC 5322 §2.2): at the blank line, or — for a message without
// one — at the first line that is neither a header field nor a continuation. Pure. Everything past
// this point is body and must never be quoted back (notices) or kept (storeBody: false).

const FIELD = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

export interface HeaderScan {
  /** Bytes of the header block, including the blank line when there is one. */
  readonly end: number;
  /** True when the end was found (blank line or a body line); false when the data ran out first. */
  readonly complete: boolean;
}

/** Scans `buf` from `from` (the start of a line already known to be inside the header block). */
export function scanHeaderBlock(buf: Buffer, from = 0): HeaderScan {
  let pos = from;
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) return { end: pos, complete: false };
    const lineEnd = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
    if (lineEnd === pos) return { end: nl + 1, complete: true }; // the blank line
    const first = buf[pos];
    const continuation = (first === 0x20 || first === 0x09) && pos > 0;
    if (!continuation && !FIELD.test(buf.subarray(pos, Math.min(lineEnd, pos + 1000)).toString('latin1'))) {
      return { end: pos, complete: true }; // a body line without a blank line before it
    }
    pos = nl + 1;
  }
}
