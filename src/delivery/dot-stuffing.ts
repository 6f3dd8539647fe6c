// Dot-stuffing for the DATA we relay, as nodemailer does it, in native searches instead of a loop over
// every byte. The 1 MB relay profile (README "Speed") had nodemailer's DataStream#_transform at 35 % of
// the server's CPU (about 4 ms per MB); finding CR and LF with Buffer#indexOf costs about 0.7 ms. The
// output is byte for byte nodemailer's (test/unit/dot-stuffing.test.ts compares the two on random input).
// Like src/smtp/wire-compat.ts for smtp-server, this is the one module touching nodemailer internals
// (checked against 10.6.0): if the class is not where it was, the server refuses to start rather than
// relay with a half-known stuffer.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const INSERT_LF = Buffer.from('\n');
const INSERT_LF_DOT = Buffer.from('\n.');
const INSERT_CR = Buffer.from('\r');
const INSERT_DOT = Buffer.from('.');

/**
 * `chunk` as it goes on the wire after `lastByte` (false: the first chunk of the message): a dot that
 * starts a line doubled, a bare CR or bare LF made CRLF (a dot after a bare CR stuffed too, against SMTP
 * smuggling). Returns `chunk` itself when nothing changes. Pure.
 */
export function stuffDots(chunk: Buffer, lastByte: number | false): Buffer {
  const len = chunk.length;
  const pieces: Buffer[] = [];
  let from = 0;
  let total = 0;
  const insert = (at: number, bytes: Buffer): void => {
    if (at > from) pieces.push(chunk.subarray(from, at));
    pieces.push(bytes);
    total += bytes.length;
    from = at;
  };
  // the first byte, against the previous chunk's last one
  const first = chunk[0];
  if (lastByte === CR && first !== LF) insert(0, first === DOT ? INSERT_LF_DOT : INSERT_LF);
  else if ((lastByte === false || lastByte === LF) && first === DOT) insert(0, INSERT_DOT);
  // every other insertion sits at a CR + 1 (a bare CR), at an LF (a bare LF) or at an LF + 1 (a dot);
  // visiting CRs and LFs in order of position yields the insertions in order
  let cr = chunk.indexOf(CR);
  let lf = chunk.indexOf(LF);
  while (cr !== -1 || lf !== -1) {
    if (lf === -1 || (cr !== -1 && cr < lf)) {
      const next = cr + 1;
      if (next < len && chunk[next] !== LF) insert(next, chunk[next] === DOT ? INSERT_LF_DOT : INSERT_LF);
      cr = chunk.indexOf(CR, next);
    } else {
      const prev = lf === 0 ? lastByte : chunk[lf - 1];
      if (prev !== CR) insert(lf, INSERT_CR);
      if (lf + 1 < len && chunk[lf + 1] === DOT) insert(lf + 1, INSERT_DOT);
      lf = chunk.indexOf(LF, lf + 1);
    }
  }
  if (pieces.length === 0) return chunk;
  if (from < len) pieces.push(chunk.subarray(from));
  return Buffer.concat(pieces, len + total);
}

/** What of nodemailer's DataStream the replacement uses. */
export interface DataStreamLike {
  inByteCount: number;
  outByteCount: number;
  lastByte: number | false;
  push(chunk: Buffer): boolean;
}
export type Transform = (this: DataStreamLike, chunk: Buffer | string, encoding: string, done: () => void) => void;

let installed: Promise<void> | null = null;
let original: Transform | null = null;

/** nodemailer's own stuffing, as it was before installFastDotStuffing (for the equivalence test). */
export const nodemailerTransform = (): Transform | null => original;

/** The DataStream class of the nodemailer build this process imports (ESM). */
async function dataStreamPrototype(): Promise<{ _transform: Transform }> {
  const require = createRequire(import.meta.url);
  const cjsMain = require.resolve('nodemailer');
  const file = path.join(path.dirname(path.dirname(cjsMain)), 'esm', 'smtp-connection', 'data-stream.js');
  const mod = (await import(pathToFileURL(file).href)) as { default?: { prototype?: { _transform?: unknown } } };
  const proto = mod.default?.prototype;
  if (!proto || typeof proto._transform !== 'function')
    throw new Error('nodemailer internals changed: review src/delivery/dot-stuffing.ts');
  return proto as { _transform: Transform };
}

/** Puts stuffDots in nodemailer's DataStream (once per process); resolves when it is in place. */
export function installFastDotStuffing(): Promise<void> {
  installed ??= dataStreamPrototype().then((proto) => {
    original = proto._transform;
    proto._transform = function transform(this: DataStreamLike, input, _encoding, done) {
      if (!input || input.length === 0) {
        done();
        return;
      }
      const chunk = typeof input === 'string' ? Buffer.from(input) : input;
      this.inByteCount += chunk.length;
      const out = stuffDots(chunk, this.lastByte);
      this.outByteCount += out.length;
      this.push(out);
      this.lastByte = chunk[chunk.length - 1] ?? false;
      done();
    };
  });
  return installed;
}

// at import: upstream.ts imports this module, so no relay starts with the slow stuffer, and a nodemailer
// whose internals moved stops the server at start instead of later
await installFastDotStuffing();
