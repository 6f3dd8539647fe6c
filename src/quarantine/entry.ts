// A quarantine entry's metadata (<id>.json, SPEC §5) and its codec.
import { z } from 'zod';

/** `not-needed`: a reject-after-data record, whose sender learns from the sending server's own bounce. */
export const NOTICE_STATUSES = ['pending', 'sending', 'sent', 'suppressed', 'failed', 'not-needed'] as const;

const noticeSchema = z.object({
  status: z.enum(NOTICE_STATUSES),
  reason: z.string().optional(),
  attempts: z.number().int().nonnegative().default(0),
  nextAttemptAt: z.string().optional(),
  sentAt: z.string().optional(),
  lastError: z.string().optional(),
  to: z.string().optional(),
  /** SPEC §6 sends one notice per served domain: the domains whose notice already went out, so a retry skips them. */
  sentDomains: z.array(z.string()).optional(),
});

/** SPEC §5: show | show-raw | release | delete, and `list` when a Subject was decrypted for the listing. */
export const ACCESS_ACTIONS = ['show', 'show-raw', 'release', 'delete', 'list'] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

const accessSchema = z.object({ at: z.string(), action: z.string(), by: z.string() });
export type AccessRecord = z.output<typeof accessSchema>;

export const entrySchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  receivedAt: z.string(),
  expiresAt: z.string(),
  remoteAddress: z.string(),
  clientHostname: z.string().optional(),
  helo: z.string(),
  mailFrom: z.string(),
  recipients: z.array(z.string()),
  deliveredTo: z.array(z.string()).default([]),
  size: z.number().int().nonnegative(),
  bodyStored: z.boolean().default(true),
  messageId: z.string().nullable(),
  subject: z.string().nullable(),
  headerFrom: z.string().nullable(),
  headers: z
    .object({
      autoSubmitted: z.string().nullable(),
      precedence: z.string().nullable(),
      listId: z.string().nullable(),
      listUnsubscribe: z.string().nullable(),
      xAutoResponseSuppress: z.string().nullable(),
    })
    .partial()
    .default({}),
  auth: z.object({ spf: z.string(), dmarc: z.string() }).passthrough().nullable().default(null),
  /** `rejected`: a reject-after-data record (headers only; the client got 550 after the final dot). */
  kind: z.enum(['quarantined', 'rejected']).default('quarantined'),
  /** What the client asked through the DSN extension (RFC 3461); only when it used it. */
  dsn: z
    .object({
      envid: z.string().optional(),
      ret: z.enum(['HDRS', 'FULL']).optional(),
      recipients: z.array(
        z.object({ address: z.string(), notify: z.array(z.string()).optional(), orcpt: z.string().optional() }),
      ),
    })
    .optional(),
  /**
   * The message is `<id>.eml.age`, encrypted to quarantine.sealTo; the JSON then holds no Subject and
   * no Message-ID (SPEC §5), and a pending notice waits composed in `<id>.notice.json`.
   */
  // optional in the type (absent reads as false): older entries and hand-made ones carry none
  sealed: z.boolean().optional(),
  /** Who read or moved the entry, appended before anything is shown (SPEC §5). */
  access: z.array(accessSchema).default([]),
  notice: noticeSchema,
});

export type QuarantineEntry = z.output<typeof entrySchema>;
export type NoticeState = QuarantineEntry['notice'];

export function decodeEntry(text: string): QuarantineEntry | null {
  try {
    const r = entrySchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/**
 * The metadata of a sealed entry: what `list`, retention and the notice outbox need, and nothing the
 * message says about its content. Subject and Message-ID go; the From: address stays for the outbox's
 * DMARC check (its domain is what DMARC aligns with), and the RFC 3834 fields for its suppression rules.
 */
export function sealedMetadata(entry: QuarantineEntry): QuarantineEntry {
  return { ...entry, sealed: true, subject: null, messageId: null };
}
