// A copy of a spooled message with fields prepended (observe mode's X-Original-To): the one case in
// which a stored copy differs from the spool file, so it cannot be a hard link of it.
import { open, unlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { SpooledMessage } from '../message/spool.js';
import type { DurableFs } from '../storage/durable-fs.js';
import { shortWrite, writeAll } from '../storage/write-all.js';

const CHUNK = 64 * 1024;

/** `prefix` + the message as a new file at `dest`, fsynced and checked for its full size, or nothing. */
export async function placePrefixedMessage(
  fs: DurableFs,
  message: SpooledMessage,
  prefix: string,
  dest: string,
): Promise<void> {
  const head = Buffer.from(prefix, 'utf8');
  if (message.kind === 'memory') {
    await fs.writeNew(dest, Buffer.concat([head, message.data]));
    return;
  }
  // a spool file is streamed behind the prefix: a large message is never held whole in memory
  const fh = await open(dest, 'wx', 0o600);
  try {
    await writeAll(fh, head);
    const src = await open(message.path, 'r');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        await writeAll(fh, buf.subarray(0, bytesRead));
      }
    } finally {
      await src.close();
    }
    await fh.sync();
    const expected = head.length + message.size;
    const actual = (await fh.stat()).size;
    if (actual !== expected) throw shortWrite(dest, expected, actual);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(dest).catch(() => undefined);
    throw err;
  }
  await fh.close();
}

/** The message as the upstream gets it, with `prefix` in front when there is one. */
export function rawWithPrefix(message: SpooledMessage, prefix: string): Buffer | Readable {
  if (message.kind === 'memory')
    return prefix === '' ? message.data : Buffer.concat([Buffer.from(prefix, 'utf8'), message.data]);
  if (prefix === '') return createReadStream(message.path);
  const file = message.path;
  async function* chunks(): AsyncGenerator<Buffer> {
    yield Buffer.from(prefix, 'utf8');
    for await (const c of createReadStream(file)) yield c as Buffer;
  }
  return Readable.from(chunks(), { objectMode: false });
}
