// write(2) may write fewer bytes than asked when the file system fills up, and only the next call
// fails with ENOSPC: a caller that ignores bytesWritten stores a truncated message without any error.
import type { FileHandle } from 'node:fs/promises';

/** An ENOSPC-coded error: a file came out shorter than the bytes handed to it. */
export function shortWrite(file: string, expected: number, actual: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`short write: ${actual} of ${expected} bytes stored`), { code: 'ENOSPC', path: file });
}

/** Writes every byte of `buf` at the file's current position, or throws. */
export async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buf.length) {
    const { bytesWritten } = await fh.write(buf, offset, buf.length - offset);
    // no progress and no error: treat as a full disk rather than spin
    if (bytesWritten <= 0) throw shortWrite('(open file)', buf.length, offset);
    offset += bytesWritten;
  }
}
