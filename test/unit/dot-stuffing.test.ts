// The dot-stuffing that replaces nodemailer's (src/delivery/dot-stuffing.ts) must put on the wire exactly
// what nodemailer's would: the same bytes for every input and every way of cutting it into chunks, and
// the same counters. Compared here with nodemailer's own DataStream#_transform on tables and random input.
import { describe, expect, it } from 'vitest';
import {
  installFastDotStuffing,
  nodemailerTransform,
  stuffDots,
  type DataStreamLike,
  type Transform,
} from '../../src/delivery/dot-stuffing.js';

/** Runs a _transform over `chunks` as a DataStream would; returns the bytes pushed and the counters. */
function run(transform: Transform, chunks: readonly Buffer[]): { out: Buffer; inBytes: number; outBytes: number } {
  const pushed: Buffer[] = [];
  const stream: DataStreamLike = {
    inByteCount: 0,
    outByteCount: 0,
    lastByte: false,
    push: (b: Buffer) => pushed.push(b) > 0,
  };
  for (const c of chunks) transform.call(stream, c, 'buffer', () => undefined);
  return { out: Buffer.concat(pushed), inBytes: stream.inByteCount, outBytes: stream.outByteCount };
}

async function transforms(): Promise<{ theirs: Transform; ours: Transform }> {
  await installFastDotStuffing();
  const theirs = nodemailerTransform();
  if (!theirs) throw new Error('nodemailer transform not captured');
  const ours: Transform = function (this: DataStreamLike, input, _enc, done) {
    const chunk = typeof input === 'string' ? Buffer.from(input) : input;
    if (chunk.length === 0) return done();
    this.inByteCount += chunk.length;
    const out = stuffDots(chunk, this.lastByte);
    this.outByteCount += out.length;
    this.push(out);
    this.lastByte = chunk[chunk.length - 1] ?? false;
    done();
  };
  return { theirs, ours };
}

describe('stuffDots', () => {
  it.each([
    ['a plain line', 'hello\r\n', 'hello\r\n'],
    ['a dot starting the message', '.hidden\r\n', '..hidden\r\n'],
    ['a dot starting a line', 'a\r\n.b\r\n', 'a\r\n..b\r\n'],
    ['a lone dot line (would end DATA)', 'a\r\n.\r\nb', 'a\r\n..\r\nb'],
    ['a bare LF', 'a\nb', 'a\r\nb'],
    ['a bare CR', 'a\rb', 'a\r\nb'],
    ['a dot after a bare CR (smuggling)', 'a\r.\rb', 'a\r\n..\r\nb'],
    ['a dot after a bare LF', 'a\n.\nb', 'a\r\n..\r\nb'],
    ['CR CR LF', 'a\r\r\nb', 'a\r\n\r\nb'],
    ['nothing to change returns the chunk itself', 'no breaks at all', 'no breaks at all'],
  ])('%s', (_name, input, expected) => {
    const chunk = Buffer.from(input, 'latin1');
    const out = stuffDots(chunk, false);
    expect(out.toString('latin1')).toBe(expected);
    if (input === expected) expect(out).toBe(chunk);
  });

  it.each([
    ['a CR ending the previous chunk, LF first', 0x0d, '\nx', '\nx'],
    ['a CR ending the previous chunk, a dot first', 0x0d, '.x', '\n..x'],
    ['a CR ending the previous chunk, a letter first', 0x0d, 'x', '\nx'],
    ['an LF ending the previous chunk, a dot first', 0x0a, '.x', '..x'],
    ['a letter ending the previous chunk, a dot first', 0x61, '.x', '.x'],
    ['a letter ending the previous chunk, an LF first', 0x61, '\nx', '\r\nx'],
  ])('%s', (_name, lastByte, input, expected) => {
    expect(stuffDots(Buffer.from(input, 'latin1'), lastByte).toString('latin1')).toBe(expected);
  });

  it('puts out what nodemailer does for 3,000 random messages cut into random chunks, counters included', async () => {
    const { theirs, ours } = await transforms();
    // a small deterministic generator: the failure, if any, can be replayed
    let seed = 0x2f6b1d3;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const alphabet = [0x61, 0x2e, 0x0d, 0x0a, 0x62, 0x20, 0x2e, 0x0d, 0x0a];
    for (let m = 0; m < 3000; m++) {
      const bytes = Buffer.from(Array.from({ length: 1 + rand(200) }, () => alphabet[rand(alphabet.length)] ?? 0x61));
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length;) {
        const n = 1 + rand(40);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      const a = run(theirs, chunks);
      const b = run(ours, chunks);
      expect(b.out.toString('latin1'), JSON.stringify(bytes.toString('latin1'))).toBe(a.out.toString('latin1'));
      expect([b.inBytes, b.outBytes]).toEqual([a.inBytes, a.outBytes]);
    }
  });

  it("is in place in nodemailer's DataStream and puts out the same bytes there", async () => {
    const { theirs } = await transforms();
    const message = Buffer.from('Subject: x\r\n\r\n.one\r\ntwo\n.\r\nthree\rfour\r\n', 'latin1');
    const expected = run(theirs, [message]).out;
    // the class nodemailer's SMTP connection builds for DATA (the delivery suites send through it)
    const proto = (await import(
      new URL('../../node_modules/nodemailer/dist/esm/smtp-connection/data-stream.js', import.meta.url).href
    )) as { default: { prototype: { _transform: Transform } } };
    expect(proto.default.prototype._transform).not.toBe(theirs);
    expect(run(proto.default.prototype._transform, [message]).out.equals(expected)).toBe(true);
  });
});
