// The part of a stored message that the DMARC check (DKIM, From:) gets to see. mailauth verifies every
// DKIM-Signature it finds and hashes the whole body once per distinct (canonicalization, hash, l=)
// triple, and its header parser is quadratic in the continuation lines of one field; all three are
// the sender's to choose. Bounding the input bounds the work: a message the sender authenticated
// honestly fits easily, a hostile one costs at most a few hundred milliseconds.
import type { Readable } from 'node:stream';

/** DKIM-Signature fields verified per message, from the top (OpenDKIM verifies 3 by default). */
export const MAX_DKIM_SIGNATURES = 5;

/**
 * Header bytes read. Beyond ~64 KiB mailauth's header parser gets quadratic (100 KiB of continuation
 * lines cost 2.3 s of CPU, 64 KiB 0.2 s); a longer header block is cut at a field boundary.
 */
export const MAX_DKIM_HEADER_BYTES = 64 * 1024;

/**
 * Body bytes hashed per signature. A signature over a longer body (without `l=`) no longer matches
 * and counts as `neutral`, so DMARC then rests on aligned SPF alone.
 */
export const MAX_DKIM_BODY_BYTES = 4 * 1024 * 1024;

const CR = 0x0d;
const LF = 0x0a;

/**
 * End of the header block, blank line included, found the way mailauth finds it (after a bare LF
 * became CRLF): the first LF that ends an empty line. -1: no blank line in `buf`.
 */
export function dkimHeaderEnd(buf: Buffer): number {
  for (let nl = buf.indexOf(LF); nl >= 0; nl = buf.indexOf(LF, nl + 1)) {
    if (nl >= 1 && buf[nl - 1] === LF) return nl + 1;
    if (nl >= 2 && buf[nl - 1] === CR && buf[nl - 2] === LF) return nl + 1;
  }
  return -1;
}

// mailauth's own reading of a header block (tools.parseHeaders): a line opening with white space
// continues the field above; the name is what precedes the first colon. The same rule here means
// the fields dropped are exactly the signatures mailauth would have verified.
const CONTINUATION = /^\s/;
const FIELD_NAME = /^[^:]+/;

function isBlank(line: string): boolean {
  return line === '\n' || line === '\r\n';
}

/** `header` without the DKIM-Signature fields past the first `max` (their folded lines included). */
export function keepFirstDkimSignatures(header: Buffer, max = MAX_DKIM_SIGNATURES): Buffer {
  const text = header.toString('latin1');
  const kept: string[] = [];
  let seen = 0;
  let dropping = false;
  let dropped = false;
  for (let pos = 0; pos < text.length;) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    const line = text.slice(pos, end);
    if (isBlank(line)) dropping = false;
    else if (pos === 0 || !CONTINUATION.test(line)) {
      const name = FIELD_NAME.exec(line)?.[0].trim().toLowerCase();
      dropping = name === 'dkim-signature' && ++seen > max;
    }
    if (dropping) dropped = true;
    else kept.push(line);
    pos = end;
  }
  return dropped ? Buffer.from(kept.join(''), 'latin1') : header;
}

/** Start of the last field that begins within the first `limit` bytes: where a long header is cut. */
function lastFieldStart(buf: Buffer, limit: number): number {
  for (let nl = buf.lastIndexOf(LF, limit - 1); nl >= 0; nl = buf.lastIndexOf(LF, nl - 1)) {
    const next = buf[nl + 1];
    if (nl + 1 < limit && next !== 0x20 && next !== 0x09) return nl + 1;
  }
  return 0;
}

/**
 * The bounded message: at most `MAX_DKIM_HEADER_BYTES` of header (cut at a field boundary, then a
 * blank line), at most `MAX_DKIM_SIGNATURES` DKIM-Signature fields, at most `MAX_DKIM_BODY_BYTES` of
 * body. `data` is the start of the message, `whole` says whether it is all of it.
 */
export function boundDkimInput(data: Buffer, whole: boolean): Buffer {
  const end = dkimHeaderEnd(data.subarray(0, MAX_DKIM_HEADER_BYTES));
  if (end >= 0) {
    const body = data.subarray(end, end + MAX_DKIM_BODY_BYTES);
    return Buffer.concat([keepFirstDkimSignatures(data.subarray(0, end)), body]);
  }
  // no blank line: mailauth reads it all as header, which is fine while it is short
  if (whole && data.length <= MAX_DKIM_HEADER_BYTES) return keepFirstDkimSignatures(data);
  const cut = lastFieldStart(data, MAX_DKIM_HEADER_BYTES);
  return Buffer.concat([keepFirstDkimSignatures(data.subarray(0, cut)), Buffer.from('\r\n')]);
}

/** Reads no more of the message than `boundDkimInput` can use, then lets the file go. */
export async function readDkimInput(stream: Readable): Promise<Buffer> {
  const limit = MAX_DKIM_HEADER_BYTES + MAX_DKIM_BODY_BYTES;
  const chunks: Buffer[] = [];
  let total = 0;
  let whole = true;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), 'latin1');
      chunks.push(buf);
      total += buf.length;
      if (total >= limit) {
        whole = false;
        break; // ends the iteration, which destroys the stream and closes the file
      }
    }
  } finally {
    stream.destroy();
  }
  return boundDkimInput(Buffer.concat(chunks, Math.min(total, limit)), whole);
}
