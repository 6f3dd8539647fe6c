// Writing a new small file by descriptor, through node:fs's callback API rather than fs/promises'
// FileHandle: every entry of a quarantine flood writes two files, and a FileHandle's open and close
// were 5–8 % of the main thread in the profile of a 2 KB flood (this way: 76–87 µs of user CPU per
// file against 83–133). The same system calls, fewer objects around them.
import * as fs from 'node:fs';
import { shortWrite, writeAllBy } from './write-all.js';

const call = <T>(start: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));

const openNew = (file: string): Promise<number> => call((cb) => fs.open(file, 'wx', 0o600, cb));
const close = (fd: number): Promise<void> => call((cb) => fs.close(fd, (err) => cb(err, undefined)));
const dataSync = (fd: number): Promise<void> => call((cb) => fs.fdatasync(fd, (err) => cb(err, undefined)));
const sizeOf = (fd: number): Promise<number> => call<fs.Stats>((cb) => fs.fstat(fd, cb)).then((st) => st.size);
const writeFrom = (fd: number, buf: Buffer, offset: number): Promise<number> =>
  call((cb) => fs.write(fd, buf, offset, buf.length - offset, null, cb));

/**
 * Creates `file` (O_EXCL, 0600) holding `buf`; with `durable`, its data and size are on disk before
 * this resolves (fdatasync: what a later read needs, not the times) and the stored size is checked.
 * A failure removes the file: it was ours, and a partial one must not wait for the next start.
 */
export async function writeNewFile(file: string, buf: Buffer, durable: boolean): Promise<void> {
  const fd = await openNew(file);
  try {
    await writeAllBy((offset) => writeFrom(fd, buf, offset), buf.length);
    if (durable) {
      await dataSync(fd);
      const actual = await sizeOf(fd);
      if (actual !== buf.length) throw shortWrite(file, buf.length, actual);
    }
  } catch (err) {
    await close(fd).catch(() => undefined);
    await fs.promises.unlink(file).catch(() => undefined);
    throw err;
  }
  await close(fd);
}
