// What every `quarantine` subcommand shares: exit codes, error lines, and the one way an id from the
// command line becomes a MessageId.
import { parseMessageId, type MessageId } from '../quarantine/id.js';
import { EXIT_FAILURE, EXIT_USAGE, type ExitCode } from './exit-codes.js';
import type { UnsafeEntryFileError } from '../quarantine/store.js';
import { terminalText } from './output/text.js';

export const QUARANTINE_USAGE = `usage: catchall-guard quarantine list [--json] [--identity FILE]
       catchall-guard quarantine show ID [--raw | --json] [--identity FILE] [--as NAME]
       catchall-guard quarantine release ID --to ADDRESS [--identity FILE] [--as NAME]
       catchall-guard quarantine delete ID [--as NAME]
       catchall-guard quarantine purge [--older-than DURATION] [--as NAME]
--identity FILE: the age identity for entries sealed to quarantine.sealTo`;

/** One line to stderr; returns the code so callers can `return fail(...)`. */
export function fail(code: ExitCode, message: string): ExitCode {
  process.stderr.write(`catchall-guard: ${message}\n`);
  return code;
}

export function usage(message: string): ExitCode {
  process.stderr.write(`catchall-guard: ${message}\n${QUARANTINE_USAGE}\n`);
  return EXIT_USAGE;
}

/** Ids are checked before any path is built from them: `../x`, `a/b`, `..` never reach the file system. */
export function idArgument(args: readonly string[], command: string): MessageId | ExitCode {
  if (args.length !== 1 || args[0] === undefined) return usage(`quarantine ${command} takes one ID`);
  const id = parseMessageId(args[0]);
  if (!id)
    return fail(EXIT_USAGE, `invalid id "${terminalText(args[0], 80)}": an id has 1-64 characters of A-Z a-z 0-9 _ -`);
  return id;
}

export function noSuchEntry(id: MessageId): ExitCode {
  return fail(EXIT_FAILURE, `no such entry: ${id}`);
}

/** A file planted in the quarantine directory (a symbolic link, a FIFO): named, never read through. */
export function unsafeEntry(id: MessageId, err: UnsafeEntryFileError, consequence: string): ExitCode {
  return fail(EXIT_FAILURE, `entry ${id}: ${err.message}; refusing to read it (${consequence})`);
}
