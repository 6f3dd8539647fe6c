// A notice as raw MIME: the readable text alone (`plain`), or an RFC 3464 multipart/report with the
// text, a message/delivery-status part and the original header block (`dsn`). The original body is
// never an input here, so it cannot end up in a notice. Deterministic given its input.
import MailComposer from 'nodemailer/lib/mail-composer';
import type { QuarantineEntry } from '../quarantine/entry.js';
import { composeDeliveryStatus } from './delivery-status.js';
import { renderTemplate, type NoticeTemplate, type TemplateValues } from './render.js';
import { sanitizeMessageId, sanitizeSubject, sanitizeText } from './sanitize.js';
import type { NoticeLanguage } from './templates.js';

export type NoticeFormat = 'dsn' | 'plain';

export interface ComposeInput {
  readonly entry: QuarantineEntry;
  /** The original header block (text/rfc822-headers); null when the stored message is unreadable. */
  readonly originalHeaders: Buffer | null;
  readonly format: NoticeFormat;
  readonly language: NoticeLanguage;
  /** `notices.from`: a local-part at the unknown recipient's domain, or a full address. */
  readonly from: string;
  readonly hostname: string;
  readonly template: NoticeTemplate;
  readonly date: Date;
}

export interface ComposedNotice {
  /** Always the null sender: a notice about a notice must never be possible. */
  readonly envelope: { readonly from: ''; readonly to: string };
  readonly raw: Buffer;
  readonly messageId: string;
}

const DISPLAY_NAME: Readonly<Record<NoticeLanguage, string>> = { en: 'Mail Delivery System', de: 'Mail-Zustellsystem' };
const LOCALE: Readonly<Record<NoticeLanguage, string>> = { en: 'en-GB', de: 'de-DE' };

export function noticeFromAddress(from: string, recipients: readonly string[]): string {
  if (from.includes('@')) return from;
  const first = recipients[0] ?? '';
  return `${from}@${first.slice(first.lastIndexOf('@') + 1)}`;
}

/** One id per entry: a retry repeats it, so a receiver that saw an earlier attempt can tell. */
export function noticeMessageId(qid: string, hostname: string): string {
  return `<notice-${qid}@${hostname}>`;
}

export function formatNoticeDate(iso: string, language: NoticeLanguage): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  // UTC and said so: the server's zone is not the reader's, and the name avoids guessing
  return `${new Intl.DateTimeFormat(LOCALE[language], { dateStyle: 'full', timeStyle: 'short', timeZone: 'UTC' }).format(d)} UTC`;
}

export function noticeValues(input: Pick<ComposeInput, 'entry' | 'language' | 'hostname'>): TemplateValues {
  const { entry, language } = input;
  return {
    subject: sanitizeSubject(entry.subject),
    recipients: entry.recipients.map((r) => `    ${sanitizeText(r, 320)}`).join('\n'),
    sender: sanitizeText(entry.mailFrom, 320),
    receivedAt: formatNoticeDate(entry.receivedAt, language),
    expiresAt: formatNoticeDate(entry.expiresAt, language),
    hostname: input.hostname,
    qid: entry.id,
    bodyStored: entry.bodyStored,
    // a mixed transaction: the known recipients did get it, so "nobody received it" would be false
    deliveredElsewhere: entry.deliveredTo.length > 0,
  };
}

/**
 * The header block as a text part: ASCII goes in as a string, so the composer can keep it 7bit (or QP for
 * over-long lines); anything 8-bit is forced to quoted-printable, so no 8BITMIME peer is needed.
 */
function headersPart(headers: Buffer): { content: string | Buffer; contentTransferEncoding: '7bit' | 'quoted-printable' } {
  const isAscii = headers.every((byte) => byte !== 0 && byte < 0x80);
  // '7bit' on a string is a wish the composer checks: it falls back to QP/base64 for long lines
  return isAscii ? { content: headers.toString('latin1'), contentTransferEncoding: '7bit' } : { content: headers, contentTransferEncoding: 'quoted-printable' };
}

export async function composeNotice(input: ComposeInput): Promise<ComposedNotice> {
  const { entry, format, hostname } = input;
  const values = noticeValues(input);
  // the rendered subject gets the same treatment as the original's: a template cannot break the header either
  const subject = sanitizeText(renderTemplate(input.template.subject, values), 400);
  const text = `${renderTemplate(input.template.body, values).replace(/\r?\n/g, '\r\n')}\r\n`;
  const messageId = noticeMessageId(entry.id, hostname);
  const original = sanitizeMessageId(entry.messageId);
  const composer = new MailComposer({
    from: { name: DISPLAY_NAME[input.language], address: noticeFromAddress(input.from, entry.recipients) },
    // an object, not a string: a string is parsed as an address list
    to: { name: '', address: entry.mailFrom },
    subject,
    messageId,
    date: input.date,
    ...(original ? { inReplyTo: original, references: original } : {}),
    headers: {
      'Auto-Submitted': 'auto-replied',
      // Exchange and Outlook: no out-of-office or other automatic answer to this one
      'X-Auto-Response-Suppress': 'All',
    },
    text,
    ...(format === 'dsn'
      ? {
          attachments: [
            {
              contentType: 'message/delivery-status',
              content: composeDeliveryStatus({ hostname, arrivalDate: new Date(entry.receivedAt), recipients: entry.recipients }),
              filename: false,
              // attachment, not inline: parsers such as mailparser would otherwise fold it into the readable text
              contentDisposition: 'attachment',
              headers: { 'Content-Description': 'Delivery report' },
            },
            ...(input.originalHeaders
              ? [
                  {
                    contentType: 'text/rfc822-headers',
                    ...headersPart(input.originalHeaders),
                    filename: false as const,
                    contentDisposition: 'attachment' as const,
                    headers: { 'Content-Description': 'Header lines of the undelivered message' },
                  },
                ]
              : []),
          ],
        }
      : {}),
  });
  const root = composer.compile();
  if (format === 'dsn') root.setHeader('Content-Type', 'multipart/report; report-type=delivery-status');
  const raw = await root.build();
  return { envelope: { from: '', to: entry.mailFrom }, raw, messageId };
}
