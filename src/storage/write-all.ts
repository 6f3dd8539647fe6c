// write(2) may write fewer bytes than asked when the file system fills up, and only the next call
// fails with ENOSPC: a caller that ignores bytesWritten stores a truncated message without any error.
import type { FileHandle } from 'node:fs/promises';

/** An ENOSPC-coded error: a file came out shorter than the bytes handed to it. */
export function shortWrite(file: string, expected: number, actual: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`short write: ${actual} of ${expected} bytes stored`), { code: 'ENOSPC', path: file });
}

/** Writes every byte of `buf` at the file's current position, or throws. */
export function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  return writeAllBy(async (offset) => (await fh.write(buf, offset, buf.length - offset)).bytesWritten, buf.length);
}

/** The loop behind writeAll for any writer: `writeFrom(offset)` writes from there on and says how much it took. */
export async function writeAllBy(writeFrom: (offset: number) => Promise<number>, length: number): Promise<void> {
  let offset = 0;
  while (offset < length) {
    const bytesWritten = await writeFrom(offset);
    // no progress and no error: treat as a full disk rather than spin
    if (bytesWritten <= 0) throw shortWrite('(open file)', length, offset);
    offset += bytesWritten;
  }
}
