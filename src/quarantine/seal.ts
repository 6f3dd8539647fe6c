// Sealed entries (quarantine.sealTo, SPEC §5): the stored message is an age file encrypted to the
// operator's X25519 recipient. The server only ever encrypts; decrypting needs the identity (private
// key), which the `quarantine` commands read from --identity FILE. Both directions stream through
// age-encryption in 64 KiB chunks, so a 25 MB message costs a few chunks of memory beyond itself.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Decrypter, Encrypter } from 'age-encryption';
import { shortWrite, writeAll } from '../storage/write-all.js';

/** Chunks handed to the encrypter: a Buffer in memory is never copied whole. */
const CHUNK = 64 * 1024;

function chunksOf(data: Buffer): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pos >= data.length) {
        controller.close();
        return;
      }
      controller.enqueue(data.subarray(pos, pos + CHUNK));
      pos += CHUNK;
    },
  });
}

/**
 * Encrypts `plaintext` to `recipient` into the open file `out` (written in order from offset 0), and
 * resolves with the bytes written. The caller fsyncs and renames, as for any entry file.
 */
export async function sealInto(out: FileHandle, recipient: string, plaintext: Buffer): Promise<number> {
  const enc = new Encrypter();
  enc.addRecipient(recipient);
  const sealed = await enc.encrypt(chunksOf(plaintext));
  let written = 0;
  // one chunk in flight: the ciphertext never accumulates in memory
  for await (const chunk of Readable.fromWeb(sealed)) {
    const u8 = chunk as Uint8Array;
    const buf = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    await writeAll(out, buf);
    written += buf.length;
  }
  return written;
}

/**
 * A new file `dest` (0600) holding `plaintext` sealed to `recipient`, fsynced and its size checked, as
 * DurableFs.writeNew does for a message in clear; a failure leaves no file behind.
 */
export async function writeSealedFile(dest: string, recipient: string, plaintext: Buffer): Promise<void> {
  const fh = await open(dest, 'wx', 0o600);
  try {
    const written = await sealInto(fh, recipient, plaintext);
    await fh.sync();
    const actual = (await fh.stat()).size;
    if (actual !== written) throw shortWrite(dest, written, actual);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(dest).catch(() => undefined);
    throw err;
  }
  await fh.close();
}

/** An identity file as age-keygen writes it: `# comment` lines and one or more AGE-SECRET-KEY-1… lines. */
export type IdentityParse =
  { readonly ok: true; readonly identities: string[] } | { readonly ok: false; readonly error: string };

export function parseIdentityFile(text: string): IdentityParse {
  const keys = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (keys.length === 0) return { ok: false, error: 'holds no AGE-SECRET-KEY-1… line' };
  for (const [i, k] of keys.entries()) {
    if (!k.startsWith('AGE-SECRET-KEY-'))
      return { ok: false, error: `key ${i + 1} is not an age identity (expected AGE-SECRET-KEY-1…)` };
    try {
      new Decrypter().addIdentity(k);
    } catch (err) {
      return { ok: false, error: `key ${i + 1} is not a valid age identity (${(err as Error).message})` };
    }
  }
  return { ok: true, identities: keys };
}

/** The identity does not open this file: it was sealed to another recipient (a rotated key, a wrong file). */
export class WrongIdentityError extends Error {
  constructor() {
    super('the identity does not match the recipient this entry was sealed to');
    this.name = 'WrongIdentityError';
  }
}

/**
 * The plaintext of a sealed file as a stream. Resolves only once the age header has been opened with
 * one of `identities`, so a wrong key fails here (WrongIdentityError) before anything is printed or
 * moved; a damaged payload fails the stream later.
 */
export async function openSealed(source: Readable, identities: readonly string[]): Promise<Readable> {
  const dec = new Decrypter();
  for (const id of identities) dec.addIdentity(id);
  const web = Readable.toWeb(source) as ReadableStream<Uint8Array>;
  let plain: ReadableStream<Uint8Array>;
  try {
    plain = await dec.decrypt(web);
  } catch (err) {
    source.destroy();
    if (/no identity matched/.test((err as Error).message)) throw new WrongIdentityError();
    throw err;
  }
  return Readable.fromWeb(plain);
}

/** Reads a stream whole (a release delivers from memory, as from a small spooled message). */
export async function readAllOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}
