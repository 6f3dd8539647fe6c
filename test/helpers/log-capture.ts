// Events as the app emits them, kept in memory and awaitable (pino's own tests parse output back the same way).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createEventSink, type EventSink, type LogEvent } from '../../src/observability/events.js';

export interface CapturedEvents {
  readonly sink: EventSink;
  readonly all: LogEvent[];
  /** Raw JSON lines written by the logger, to check what reaches the log. */
  readonly lines: string[];
  of<K extends LogEvent['event']>(kind: K): Extract<LogEvent, { event: K }>[];
  waitFor<K extends LogEvent['event']>(
    kind: K,
    pred?: (e: Extract<LogEvent, { event: K }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<LogEvent, { event: K }>>;
}

export function captureEvents(): CapturedEvents {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(l);
      cb();
    },
  });
  const log = pino({ level: 'info', base: null }, out);
  const sink = createEventSink(log);
  const all: LogEvent[] = [];
  const waiters = new Set<(e: LogEvent) => void>();
  sink.subscribe((e) => {
    all.push(e);
    for (const w of [...waiters]) w(e);
  });
  const of = <K extends LogEvent['event']>(kind: K): Extract<LogEvent, { event: K }>[] =>
    all.filter((e): e is Extract<LogEvent, { event: K }> => e.event === kind);
  return {
    sink,
    all,
    lines,
    of,
    waitFor(kind, pred = () => true, timeoutMs = 10_000) {
      const existing = of(kind).find(pred);
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out waiting for event ${kind}`));
        }, timeoutMs);
        const w = (e: LogEvent): void => {
          if (e.event === kind && pred(e as Extract<LogEvent, { event: typeof kind }>)) {
            clearTimeout(timer);
            waiters.delete(w);
            resolve(e as Extract<LogEvent, { event: typeof kind }>);
          }
        };
        waiters.add(w);
      });
    },
  };
}
