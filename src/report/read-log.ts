// A log file or stdin → text lines, gunzipped on the fly when the data is gzip (by its magic bytes,
// so a rotated `.gz` file and `zcat`-less pipes both work). Streaming: one line in memory at a time.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Reads just enough to see the first two bytes, then hands on the whole stream (decompressed if gzip). */
export async function decompressIfGzip(source: Readable): Promise<Readable> {
  const iterator = (source as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < GZIP_MAGIC.length) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    headLength += chunk.length;
  }
  const first = Buffer.concat(head);
  const raw = new PassThrough();
  // feed the peeked bytes and the rest of the source into one stream, with backpressure
  void (async () => {
    try {
      if (first.length && !raw.write(first)) await new Promise((r) => raw.once('drain', r));
      if (!ended) {
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          if (!raw.write(next.value)) await new Promise((r) => raw.once('drain', r));
        }
      }
      raw.end();
    } catch (err) {
      raw.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  if (first[0] !== GZIP_MAGIC[0] || first[1] !== GZIP_MAGIC[1]) return raw;
  const gunzip = createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}

export async function* readLogLines(source: Readable): AsyncGenerator<string> {
  const input = await decompressIfGzip(source);
  const lines = createInterface({ input, crlfDelay: Infinity });
  // readline does not forward errors of its input (a truncated gzip file, an unreadable file)
  const failed: { error?: Error } = {};
  input.on('error', (err: Error) => {
    failed.error = err;
    lines.close();
  });
  for await (const line of lines) yield line;
  if (failed.error) throw failed.error;
}

export function openLogSource(file: string | undefined): Readable {
  return file === undefined || file === '-' ? process.stdin : createReadStream(file);
}
