// The pino root logger: JSON lines to stdout (or a given stream), secrets redacted, no message bodies.
import { pino, type Logger, type DestinationStream } from 'pino';

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
    // bounded: a log sink that stops reading (a stuck log driver) must not grow the server until it dies;
    // past 16 MiB of backlog new lines are dropped instead
    destination ?? pino.destination({ dest: 1, sync: false, maxLength: 16 * 1024 * 1024 }),
  );
}
