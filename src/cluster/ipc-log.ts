// A worker's log destination: its lines go to the primary, which writes them to the one destination
// (stdout or the rotated files of log.file). Several processes writing one pipe interleave any write
// above PIPE_BUF, which pino's batched writes exceed under load, and pino-roll must rotate in one
// process only; one writer avoids both. Lines are gathered for BATCH_MS (or until BATCH_BYTES) and
// sent as one message: an IPC message costs both processes far more than a line does, and under a
// burst of sessions one message per event-loop turn made the primary the bottleneck.
import type { DestinationStream } from 'pino';
import type { WorkerMessage } from './messages.js';

/** As the primary's own destination: a channel that stops taking lines must not grow the worker until it dies. */
const MAX_BACKLOG = 16 * 1024 * 1024;
/** How long lines wait for company: a log line 20 ms late costs nothing; a killed worker loses at most these. */
const BATCH_MS = 20;
const BATCH_BYTES = 64 * 1024;

export interface IpcLogDestination extends DestinationStream {
  /** Calls back once every line written so far has been handed to the channel (or dropped). */
  flush(cb?: (err?: Error | null) => void): void;
}

/** The callback runs once, sent or not: a primary that is gone (kill -9) loses the lines, nothing else. */
export function sendToPrimary(m: WorkerMessage, cb: (err: Error | null) => void = () => undefined): void {
  if (!process.send || !process.connected) return cb(new Error('no primary'));
  try {
    process.send(m, undefined, {}, (err: Error | null) => cb(err));
  } catch (err) {
    cb(err as Error);
  }
}

export function createIpcLogDestination(
  send: (m: WorkerMessage, cb: (err: Error | null) => void) => void = sendToPrimary,
): IpcLogDestination {
  let pending: string[] = [];
  let pendingBytes = 0;
  /** Bytes sent and not yet confirmed written to the channel. */
  let inFlight = 0;
  let timer: NodeJS.Timeout | null = null;
  let waiters: Array<() => void> = [];

  function settle(): void {
    if (pending.length > 0 || inFlight > 0) return;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  }

  function sendPending(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    if (pending.length === 0) return settle();
    const lines = pending.join('');
    const bytes = pendingBytes;
    pending = [];
    pendingBytes = 0;
    inFlight += bytes;
    send({ cg: 'log', lines }, () => {
      inFlight -= bytes;
      settle();
    });
  }

  return {
    write(line: string) {
      // dropped, as pino.destination drops past maxLength: logging never takes the worker down
      if (inFlight + pendingBytes + line.length > MAX_BACKLOG) return;
      pending.push(line);
      pendingBytes += line.length;
      if (pendingBytes >= BATCH_BYTES) sendPending();
      else if (!timer) {
        timer = setTimeout(sendPending, BATCH_MS);
        // the worker's exit path flushes; an idle worker is not kept alive for its log
        timer.unref();
      }
    },
    flush(cb) {
      if (cb) waiters.push(() => cb(null));
      sendPending();
    },
  };
}
