// `quarantine release ID --to ADDRESS`: the stored message, through the configured delivery, to one
// known recipient; the entry is deleted only once the delivery has succeeded.
import { buildDelivery } from '../delivery/build.js';
import type { Config } from '../config/load.js';
import type { DeliveryOutcome, DeliveryRecipient } from '../delivery/delivery.js';
import { readDirectoryOnce } from '../directory/read-once.js';
import type { SpooledMessage } from '../message/spool.js';
import { lookupRecipient } from '../policy/lookup.js';
import type { MessageId } from '../quarantine/id.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import { UnsafeEntryFileError, WrongIdentityError, type QuarantineStore } from '../quarantine/store.js';
import { identityNeeded, recordAccess, wrongIdentity } from './quarantine-access.js';
import type { QuarantineEventLog } from './quarantine-events.js';
import { writeOut } from './output/stdout.js';
import { terminalText } from './output/text.js';
import { fail, noSuchEntry, unsafeEntry } from './quarantine-common.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type ExitCode } from './exit-codes.js';

export type ReleaseTarget =
  | { readonly ok: true; readonly recipient: DeliveryRecipient }
  | { readonly ok: false; readonly code: ExitCode; readonly error: string };

/** ADDRESS must be a known recipient of a served domain: release delivers to a mailbox, it does not relay. */
export function resolveReleaseTarget(config: Config, raw: string): ReleaseTarget {
  const shown = terminalText(raw, 200);
  const { recipient, answer } = lookupRecipient(raw.trim().replace(/^<(.*)>$/, '$1'), readDirectoryOnce(config));
  if (recipient.kind !== 'mailbox' || !answer)
    return { ok: false, code: EXIT_USAGE, error: `--to: "${shown}" is not a valid mailbox address` };
  // an address rule that accepts (with or without a sender binding: the operator releases, not a sender)
  const accepting = answer.kind === 'rule' && answer.rule.action === 'accept';
  if (accepting) {
    return {
      ok: true,
      recipient: { address: recipient.address.normalized, mailbox: `${answer.mailbox}@${recipient.address.domain}` },
    };
  }
  switch (answer.kind) {
    case 'known':
      return {
        ok: true,
        recipient: { address: recipient.address.normalized, mailbox: `${answer.mailbox}@${recipient.address.domain}` },
      };
    case 'not-served':
      return {
        ok: false,
        code: EXIT_USAGE,
        error: `--to: ${shown} is not in a served domain; release delivers to known recipients only`,
      };
    case 'unknown':
    case 'rule':
      return {
        ok: false,
        code: EXIT_USAGE,
        error: `--to: ${shown} is not a known recipient; release delivers to known recipients only`,
      };
    case 'unavailable':
      return { ok: false, code: EXIT_FAILURE, error: `--to: cannot check ${shown}: ${answer.reason}` };
  }
}

function describeFailure(outcome: Exclude<DeliveryOutcome, { kind: 'delivered' }>): string {
  if (outcome.kind === 'temporary')
    return `delivery failed temporarily (${outcome.reason}): ${terminalText(outcome.detail)}`;
  const u = outcome.upstream;
  return `delivery refused: ${u.code}${u.enhanced ? ` ${u.enhanced}` : ''} ${terminalText(u.text)}`;
}

/** Who releases, with which key (a sealed entry), and where the `quarantine` event goes. */
export interface ReleaseContext {
  readonly by: string;
  readonly identities?: readonly string[] | undefined;
  readonly events: QuarantineEventLog;
}

export async function releaseEntry(
  config: Config,
  store: QuarantineStore,
  id: MessageId,
  to: string | undefined,
  ctx: ReleaseContext,
): Promise<ExitCode> {
  if (to === undefined || to.trim() === '') return fail(EXIT_USAGE, 'quarantine release needs --to ADDRESS');
  const target = resolveReleaseTarget(config, to);
  if (!target.ok) return fail(target.code, target.error);
  const event = { action: 'release' as const, id, by: ctx.by, to: target.recipient.address };
  let entry: QuarantineEntry | null;
  let message: SpooledMessage | null;
  try {
    entry = await store.get(id);
    if (!entry) return noSuchEntry(id);
    if (!entry.bodyStored) {
      // the two ways to a headers-only entry: the operator's storeBody: false, or reject-after-data, whose
      // message was refused with 550 (its sender has it back) and never stored whatever storeBody says
      const why =
        entry.kind === 'rejected'
          ? 'a message rejected after DATA (reject-after-data): its sender got 550 5.1.1, nothing else was kept'
          : 'quarantine.storeBody was false';
      return fail(EXIT_FAILURE, `entry ${id} holds the headers only (${why}): there is no message to release`);
    }
    if (entry.sealed && !ctx.identities) return identityNeeded(id, 'release');
    // in memory, read through the descriptor the store checked: never delivered by path; a sealed one
    // decrypted here, so a wrong key fails before anything is recorded or moved
    message = entry.sealed ? await store.loadSealedMessage(id, ctx.identities ?? []) : await store.loadMessage(id);
  } catch (err) {
    if (err instanceof UnsafeEntryFileError) return unsafeEntry(id, err, `nothing delivered, entry ${id} kept`);
    if (err instanceof WrongIdentityError) return wrongIdentity(id);
    throw err;
  }
  if (message === null) return fail(EXIT_FAILURE, `entry ${id} has no readable message file`);
  const recorded = await recordAccess(store, id, 'release', ctx.by);
  if (typeof recorded === 'number') return recorded;

  const delivery = buildDelivery(config);
  let outcome: DeliveryOutcome;
  try {
    outcome = await delivery.deliver({ qid: id, mailFrom: entry.mailFrom, recipients: [target.recipient], message });
  } finally {
    await delivery.close();
  }
  if (outcome.kind !== 'delivered') {
    const why = describeFailure(outcome);
    await ctx.events.emit({ ...event, outcome: 'failed', reason: why });
    return fail(EXIT_FAILURE, `${why}; entry ${id} kept`);
  }
  // delivered: from here on the quarantine copy is redundant
  const removed = await store.remove(id);
  await ctx.events.emit({ ...event, outcome: 'ok' });
  await writeOut(`released ${id} to ${target.recipient.address}${removed ? '' : ' (the entry was already gone)'}\n`);
  return EXIT_OK;
}
