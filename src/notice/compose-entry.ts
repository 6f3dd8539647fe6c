// The notices of one entry: one per served domain of the unknown recipients whose NOTIFY asks for a
// failure report (SPEC §6), skipping domains already sent. Used by the outbox at send time, and at
// receipt for a sealed entry, whose message the server cannot read back later (SPEC §5).
import type { Config } from '../config/load.js';
import { wantsFailureReport } from '../message/dsn-params.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { PendingNotice } from '../quarantine/composed-notice.js';
import { composeNotice, recipientsByDomain, type ComposedNotice } from './compose.js';
import { loadNoticeTemplate } from './templates.js';

/** Per recipient of the entry: whether its NOTIFY (RFC 3461) asks for a failure report; absent: yes. */
export function failureWanted(entry: Pick<QuarantineEntry, 'recipients' | 'dsn'>): boolean[] {
  return entry.recipients.map((address) =>
    wantsFailureReport(entry.dsn?.recipients.find((r) => r.address === address)),
  );
}

export interface EntryNotice {
  readonly domain: string;
  readonly notice: ComposedNotice;
}

export async function composeEntryNotices(input: {
  readonly entry: QuarantineEntry;
  /** The stored header block (trace header first); quoted by the dsn format only. */
  readonly originalHeaders: Buffer | null;
  readonly config: Pick<Config, 'notices' | 'server'>;
  readonly template: Awaited<ReturnType<typeof loadNoticeTemplate>>;
  readonly date: Date;
  readonly sentDomains?: readonly string[];
}): Promise<EntryNotice[]> {
  const { entry, config } = input;
  const wanted = failureWanted(entry);
  const groups = recipientsByDomain(entry.recipients.filter((_r, i) => wanted[i] !== false));
  const out: EntryNotice[] = [];
  for (const [part, group] of groups.entries()) {
    if (input.sentDomains?.includes(group.domain)) continue;
    const notice = await composeNotice({
      entry: { ...entry, recipients: group.recipients },
      originalHeaders: config.notices.format === 'dsn' ? input.originalHeaders : null,
      format: config.notices.format,
      language: config.notices.language,
      from: config.notices.from,
      hostname: config.server.hostname,
      template: input.template,
      date: input.date,
      contact: config.notices.contact,
      part,
    });
    out.push({ domain: group.domain, notice });
  }
  return out;
}

/**
 * A sealed entry's notices, composed now from the header block in memory: kept in clear beside the
 * sealed message until sent (quarantine/composed-notice.ts). Empty when no notice is due at receipt.
 */
export async function composeAtReceipt(
  entry: QuarantineEntry,
  storedHeaders: Buffer,
  config: Pick<Config, 'notices' | 'server'>,
  date: Date,
): Promise<PendingNotice[]> {
  if (entry.notice.status !== 'pending') return [];
  const template = await loadNoticeTemplate(config.notices.language, config.notices.templatesDir);
  const notices = await composeEntryNotices({ entry, originalHeaders: storedHeaders, config, template, date });
  return notices.map(({ domain, notice }) => ({
    domain,
    to: notice.envelope.to,
    messageId: notice.messageId,
    raw: notice.raw,
  }));
}
