// The `quarantine` events of show, release, delete and purge (SPEC §5, §7): the log keeps what an operator did
// after the entry itself is gone. Written where the server's events go when `log.file` is set (the
// same rotated files, so one log holds both), else as JSON lines on stderr: stdout carries the
// command's own output, which a JSON line would break for whoever reads or pipes it.
import { pino } from 'pino';
import type { Config } from '../config/load.js';
import { createEventSink, type LogEvent } from '../observability/events.js';
import { createLogger, openLogFile } from '../observability/logger.js';

export type QuarantineEvent = Extract<LogEvent, { event: 'quarantine' }>;

export interface QuarantineEventLog {
  emit(e: Omit<QuarantineEvent, 'event'>): Promise<void>;
}

export function openQuarantineEvents(config: Config): QuarantineEventLog {
  return {
    async emit(e) {
      const file = config.log.file;
      const dest = file
        ? await openLogFile(file).catch((err: unknown) => {
            // the action is done; a log file that cannot be opened must not hide that it happened
            process.stderr.write(`catchall-guard: ${(err as Error).message}; the event goes to stderr\n`);
            return null;
          })
        : null;
      const logger = createLogger(config.log.level, dest ?? pino.destination({ dest: 2, sync: true }));
      createEventSink(logger).emit({ event: 'quarantine', ...e });
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      (dest as { end?: () => void } | null)?.end?.();
    },
  };
}
