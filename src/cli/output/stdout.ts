// Writing command output to stdout: waits for the data to be handed over, and a reader that went
// away (`… | head`) ends the output quietly instead of crashing with an EPIPE stack trace.
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';

let guarded = false;

function guard(out: Writable): void {
  if (guarded || out !== process.stdout) return;
  guarded = true;
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') process.stderr.write(`catchall-guard: cannot write output: ${err.code ?? err.message}\n`);
  });
}

const isEpipe = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'EPIPE';

export function writeOut(text: string, out: Writable = process.stdout): Promise<void> {
  guard(out);
  return new Promise((resolve, reject) => {
    out.write(text, (err) => (err && !isEpipe(err) ? reject(err) : resolve()));
  });
}

/** Streams bytes through unchanged (stdout stays open). */
export async function pipeOut(source: Readable, out: Writable = process.stdout): Promise<void> {
  guard(out);
  try {
    await pipeline(source, out, { end: false });
  } catch (err) {
    if (!isEpipe(err)) throw err;
  }
}
