// `quarantine list|show|release|delete|purge`: argument checks and dispatch; each subcommand lives in
// its own quarantine-*.ts module and returns its exit code.
import type { Config } from '../config/load.js';
import { createQuarantineStore } from '../quarantine/store.js';
import { terminalText } from './output/text.js';
import { fail, idArgument, usage } from './quarantine-common.js';
import { EXIT_USAGE, type ExitCode } from './exit-codes.js';
import { loadIdentities, resolveReader } from './quarantine-access.js';
import { openQuarantineEvents } from './quarantine-events.js';
import { deleteEntry, purgeEntries } from './quarantine-delete.js';
import { listEntries } from './quarantine-list.js';
import { releaseEntry } from './quarantine-release.js';
import { showEntry } from './quarantine-show.js';

export interface QuarantineCliOptions {
  readonly json: boolean;
  readonly raw: boolean;
  readonly to: string | undefined;
  readonly olderThan: string | undefined;
  /** --identity FILE: the age identity that opens sealed entries (quarantine.sealTo). */
  readonly identity?: string | undefined;
  /** --as NAME: who the access record and the events name instead of the OS user. */
  readonly as?: string | undefined;
}

export async function runQuarantine(
  config: Config,
  args: readonly string[],
  opts: QuarantineCliOptions,
): Promise<ExitCode> {
  const [sub, ...rest] = args;
  const store = createQuarantineStore(config.quarantine.path);
  const reader = resolveReader(opts.as);
  if (!reader.ok) return fail(EXIT_USAGE, reader.error);
  const { by } = reader;
  // read (and checked) only when given: a wrong path is a usage error even for an entry in clear
  const identities = opts.identity === undefined ? undefined : await loadIdentities(opts.identity);
  if (typeof identities === 'number') return identities;
  const events = openQuarantineEvents(config);
  switch (sub) {
    case 'list':
      if (rest.length) return usage('quarantine list takes no arguments');
      return listEntries(store, opts.json, identities ? { identities, by } : undefined);
    case 'show': {
      const id = idArgument(rest, 'show');
      if (typeof id === 'number') return id;
      if (opts.raw && opts.json) return usage('quarantine show: --raw and --json exclude each other');
      return showEntry(store, id, opts.raw ? 'raw' : opts.json ? 'json' : 'pretty', { by, identities, events });
    }
    case 'release': {
      const id = idArgument(rest, 'release');
      if (typeof id === 'number') return id;
      return releaseEntry(config, store, id, opts.to, { by, identities, events });
    }
    case 'delete': {
      const id = idArgument(rest, 'delete');
      if (typeof id === 'number') return id;
      return deleteEntry(store, id, { by, events });
    }
    case 'purge':
      if (rest.length) return usage('quarantine purge takes no arguments (did you mean --older-than?)');
      return purgeEntries(store, opts.olderThan, new Date(), { by, events });
    case undefined:
      return usage('quarantine needs a subcommand');
    default:
      return usage(`unknown quarantine subcommand "${terminalText(sub, 40)}"`);
  }
}
