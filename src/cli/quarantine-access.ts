// Who is reading, and with which key: the access record (SPEC §5) names the operator (the OS user, or
// --as NAME), and sealed entries open only with the age identity given by --identity FILE.
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { AccessAction, QuarantineEntry } from '../quarantine/entry.js';
import type { MessageId } from '../quarantine/id.js';
import { parseIdentityFile } from '../quarantine/seal.js';
import type { QuarantineStore } from '../quarantine/store.js';
import { errorCodeOrText } from '../observability/error-text.js';
import { EXIT_FAILURE, EXIT_USAGE, type ExitCode } from './exit-codes.js';
import { terminalText } from './output/text.js';
import { fail } from './quarantine-common.js';

/** The operator, as the access record and the quarantine events name them. */
export type Reader = { readonly ok: true; readonly by: string } | { readonly ok: false; readonly error: string };

const AS_NAME = /^[^\p{Cc}\p{Cf}\s][^\p{Cc}\p{Cf}]{0,63}$/u;

/** `--as NAME` when given (a name of 1-64 visible characters), else the OS user running the command. */
export function resolveReader(as: string | undefined, osUser: () => string = currentOsUser): Reader {
  if (as === undefined) return { ok: true, by: osUser() };
  const name = as.trim();
  if (!AS_NAME.test(name))
    return { ok: false, error: `--as: "${terminalText(as, 80)}" is not a name (1-64 visible characters)` };
  return { ok: true, by: name };
}

function currentOsUser(): string {
  try {
    return userInfo().username;
  } catch {
    // a container user without a passwd entry still has a uid
    return process.getuid ? `uid ${process.getuid()}` : 'unknown';
  }
}

/** The identities of --identity FILE, or the exit code after saying what is wrong with it (exit 2). */
export async function loadIdentities(file: string): Promise<string[] | ExitCode> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return fail(EXIT_USAGE, `--identity: cannot read ${terminalText(file, 200)}: ${errorCodeOrText(err)}`);
  }
  const parsed = parseIdentityFile(text);
  if (!parsed.ok) return fail(EXIT_USAGE, `--identity: ${terminalText(file, 200)} ${parsed.error}`);
  return parsed.identities;
}

/** Said when a sealed entry is asked for without a key (exit 2): what is missing, and where it comes from. */
export function identityNeeded(id: MessageId, command: string): ExitCode {
  return fail(
    EXIT_USAGE,
    `entry ${id} is sealed (quarantine.sealTo): quarantine ${command} needs --identity FILE, the age identity (AGE-SECRET-KEY-1…) of that recipient`,
  );
}

export function wrongIdentity(id: MessageId): ExitCode {
  return fail(
    EXIT_FAILURE,
    `entry ${id}: the identity does not open it (it was sealed to another recipient); nothing shown, nothing changed`,
  );
}

/**
 * Appends {at, action, by} to the entry's access record, durably, before anything is shown or moved:
 * a command that cannot record the access does nothing else (exit 1). The entry as written, or the exit code.
 */
export async function recordAccess(
  store: QuarantineStore,
  id: MessageId,
  action: AccessAction,
  by: string,
  now: Date = new Date(),
): Promise<QuarantineEntry | ExitCode> {
  let written: QuarantineEntry | null;
  try {
    written = await store.appendAccess(id, { at: now.toISOString(), action, by });
  } catch (err) {
    return fail(EXIT_FAILURE, `entry ${id}: cannot record the access (${errorCodeOrText(err)}); nothing done`);
  }
  if (!written) return fail(EXIT_FAILURE, `no such entry: ${id}`);
  return written;
}
