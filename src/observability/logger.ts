// The pino root logger: JSON lines to stdout (or a given stream, or rotated files), secrets redacted,
// no message bodies.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pino, type Logger, type DestinationStream } from 'pino';
import type { RollingStream } from 'pino-roll';
import type { FileConfig } from '../config/schema.js';
import { errorCodeOrText } from './error-text.js';

/** Past this much backlog new lines are dropped: a log sink that stops taking them must not grow the server until it dies. */
const MAX_BACKLOG = 16 * 1024 * 1024;
/**
 * Lines are gathered up to this many bytes, or for FLUSH_MS, before one write: one write per line was a
 * tenth of the CPU of a session that is rejected at RCPT. The cost: a `kill -9` loses at most the last
 * FLUSH_MS of lines; every other exit (SIGTERM, a crash the process sees) writes them out first.
 */
const BATCH_BYTES = 4096;
const FLUSH_MS = 100;
/** A log file that cannot be written (full disk) is said on stderr, once a minute at most, not once a line. */
const ERROR_REPORT_INTERVAL_MS = 60_000;

export type LogSettings = FileConfig['log'];
export type LogFileSettings = NonNullable<LogSettings['file']>;

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['*.auth.pass', '*.pass', 'pass'], censor: '[redacted]' },
    },
    // bounded, as for the file below (a stuck log driver)
    destination ?? stdoutDestination(),
  );
}

function stdoutDestination(): DestinationStream {
  return pino.destination({
    dest: 1,
    sync: false,
    maxLength: MAX_BACKLOG,
    minLength: BATCH_BYTES,
    periodicFlush: FLUSH_MS,
  });
}

/**
 * `log.file`: `<dir>/<name>.log` is written as `<name>.1.log`, `<name>.2.log`, … by pino-roll, in this
 * process (no worker thread: `flush` before exit means written). A new file starts when one reaches
 * `maxSize`; at each start the highest-numbered file is continued; the oldest beyond `keep` files
 * (the one being written included) is deleted, whichever run wrote it.
 */
export async function openLogFile(file: LogFileSettings): Promise<DestinationStream> {
  let stream: RollingStream;
  try {
    await mkdir(path.dirname(file.path), { recursive: true, mode: 0o700 });
    // loaded only by `serve` with a file configured: `probe` (every 30 s in a container) stays light
    const { default: build } = await import('pino-roll');
    stream = await build({
      file: file.path,
      size: `${file.maxSize}b`,
      limit: { count: file.keep, removeOtherLogFiles: true },
      mode: 0o600,
      maxLength: MAX_BACKLOG,
      minLength: BATCH_BYTES,
      periodicFlush: FLUSH_MS,
    });
    // sonic-boom opens the file asynchronously: an unwritable file is refused here, before serving
    await opened(stream);
  } catch (err) {
    throw new Error(`log.file: cannot open ${file.path}: ${errorCodeOrText(err)}`);
  }
  let lastReport = -Infinity;
  // an unhandled stream error would end the MX over its log disk; mail keeps flowing, stderr says why
  stream.on('error', (err: NodeJS.ErrnoException) => {
    const now = Date.now();
    if (now - lastReport < ERROR_REPORT_INTERVAL_MS) return;
    lastReport = now;
    process.stderr.write(`catchall-guard: log file ${file.path}: ${err.code ?? err.message}\n`);
  });
  // process.exit (main.ts's crash handler, a forced stop) runs no more I/O: the lines still gathered
  // for the next batch go out now, as pino does for its own stdout destination
  const flushAtExit = (): void => {
    try {
      stream.flushSync();
    } catch {
      // not open, or the disk refuses: nothing more can be done at exit
    }
  };
  process.on('exit', flushAtExit);
  stream.once('close', () => process.off('exit', flushAtExit));
  return stream;
}

function opened(stream: RollingStream): Promise<void> {
  if (stream.fd >= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.once('ready', () => resolve());
    stream.once('error', reject);
  });
}

/** The logger `serve` writes its events to: stdout, or the rotated files of `log.file`. */
export async function openLogger(settings: LogSettings): Promise<Logger> {
  return createLogger(settings.level, settings.file ? await openLogFile(settings.file) : undefined);
}

/** The same destination as openLogger's, for the cluster primary, which also writes its workers' lines to it. */
export async function openLogDestination(settings: LogSettings): Promise<DestinationStream> {
  return settings.file ? await openLogFile(settings.file) : stdoutDestination();
}
