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
  /** `notices.contact`: whom the sender's organisation can write to (SPEC §6); named in the text. */
  readonly contact?: string | undefined;
  /** Which of an entry's per-domain notices this is (0: the first); only the Message-ID shows it. */
  readonly part?: number | undefined;
}

export interface ComposedNotice {
  /** Always the null sender: a notice about a notice must never be possible. */
  readonly envelope: { readonly from: ''; readonly to: string };
  readonly raw: Buffer;
  readonly messageId: string;
}

const DISPLAY_NAME: Readonly<Record<NoticeLanguage, string>> = { en: 'Mail Delivery System', de: 'Mail-Zustellsystem' };
const LOCALE: Readonly<Record<NoticeLanguage, string>> = { en: 'en-GB', de: 'de-DE' };

/**
 * SPEC §6: a notice is at most 256 KiB. Only the quoted header block can make it larger (8-bit header
 * bytes triple in quoted-printable): it is cut at a field boundary until the notice fits.
 */
export const MAX_NOTICE_BYTES = 256 * 1024;

/** Room left for the DKIM-Signature field added after composition (notices.dkim): about 700 bytes for RSA 2048. */
const SIGNATURE_RESERVE_BYTES = 2 * 1024;
const COMPOSED_MAX_BYTES = MAX_NOTICE_BYTES - SIGNATURE_RESERVE_BYTES;

/**
 * The line the readable part gains when the quoted header block was cut to its first `kept` fields. No
 * total: a header block longer than the store reads (HEADER_READ_BYTES) arrives here cut already.
 */
function shortenedNote(language: NoticeLanguage, kept: number): string {
  if (language === 'de') {
    return kept > 0
      ? `Die Kopfzeilen im Anhang wurden gekürzt, damit dieser Bericht höchstens 256 KiB groß ist: enthalten sind die ersten ${kept} Kopffelder der Nachricht.`
      : 'Die Kopfzeilen der Nachricht fehlen im Anhang: Mit ihnen wäre dieser Bericht größer als 256 KiB.';
  }
  return kept > 0
    ? `The header lines attached below were shortened to keep this report within 256 KiB: they are the first ${kept} header fields of the message.`
    : 'The header lines of the message are not attached: with them this report would exceed 256 KiB.';
}

/** Where each header field of `block` starts; the blank line that ends the block is not a field. */
export function headerFieldStarts(block: Buffer): number[] {
  const starts: number[] = [];
  for (let pos = 0; pos < block.length;) {
    const nl = block.indexOf(0x0a, pos);
    const end = nl < 0 ? block.length : nl + 1;
    const first = block[pos];
    const blank = first === 0x0a || (first === 0x0d && block[pos + 1] === 0x0a);
    if (blank) break;
    if (pos === 0 || (first !== 0x20 && first !== 0x09)) starts.push(pos);
    pos = end;
  }
  return starts;
}

interface QuotedHeaders {
  readonly block: Buffer;
  /** Set when the block is a cut: how many fields it kept. */
  readonly shortened?: { readonly kept: number };
}

export function noticeFromAddress(from: string, recipients: readonly string[]): string {
  if (from.includes('@')) return from;
  const first = recipients[0] ?? '';
  return `${from}@${first.slice(first.lastIndexOf('@') + 1)}`;
}

/**
 * One id per entry and served domain: a retry repeats it, so a receiver that saw an earlier attempt can
 * tell. `part` numbers the notices of an entry whose unknown recipients span several served domains.
 */
export function noticeMessageId(qid: string, hostname: string, part = 0): string {
  return part === 0 ? `<notice-${qid}@${hostname}>` : `<notice-${qid}-${part}@${hostname}>`;
}

/** SPEC §6: one notice per served domain of the unknown recipients, in the order they first appear. */
export function recipientsByDomain(recipients: readonly string[]): { domain: string; recipients: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const r of recipients) {
    const domain = r.slice(r.lastIndexOf('@') + 1).toLowerCase();
    const list = groups.get(domain);
    if (list) list.push(r);
    else groups.set(domain, [r]);
  }
  return [...groups].map(([domain, list]) => ({ domain, recipients: list }));
}

export function formatNoticeDate(iso: string, language: NoticeLanguage): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  // UTC and said so: the server's zone is not the reader's, and the name avoids guessing
  return `${new Intl.DateTimeFormat(LOCALE[language], { dateStyle: 'full', timeStyle: 'short', timeZone: 'UTC' }).format(d)} UTC`;
}

export function noticeValues(
  input: Pick<ComposeInput, 'entry' | 'language' | 'hostname'> & { readonly contact?: string | undefined },
): TemplateValues {
  const { entry, language } = input;
  const first = entry.recipients[0] ?? '';
  return {
    // the served domain the addresses were at: the reader may not know which mail server this is
    domain: sanitizeText(first.slice(first.lastIndexOf('@') + 1), 255),
    contact: sanitizeText(input.contact ?? '', 320),
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
function headersPart(headers: Buffer): {
  content: string | Buffer;
  contentTransferEncoding: '7bit' | 'quoted-printable';
} {
  const isAscii = headers.every((byte) => byte !== 0 && byte < 0x80);
  // '7bit' on a string is a wish the composer checks: it falls back to QP/base64 for long lines
  return isAscii
    ? { content: headers.toString('latin1'), contentTransferEncoding: '7bit' }
    : { content: headers, contentTransferEncoding: 'quoted-printable' };
}

/**
 * The notice, at most MAX_NOTICE_BYTES unless more than the quoted header block stands in the way:
 * the most header fields that fit, found by bisection over the field boundaries, each try composed in
 * full, so the size is measured, not estimated (the encoding and its line breaks depend on the bytes).
 */
/** Renders the recipients it is given: which ones a notice reports (NOTIFY, SPEC §6) is attempt.ts's choice. */
export async function composeNotice(input: ComposeInput): Promise<ComposedNotice> {
  const headers = input.format === 'dsn' ? input.originalHeaders : null;
  const whole = await composeWith(input, headers ? { block: headers } : null);
  if (!headers || whole.raw.length <= COMPOSED_MAX_BYTES) return whole;
  const starts = headerFieldStarts(headers);
  const cut = (kept: number): QuotedHeaders => ({
    block: headers.subarray(0, starts[kept] ?? headers.length),
    shortened: { kept },
  });
  let best = await composeWith(input, cut(0));
  // at most all but the last field: that one may be a part, when the store's read ended inside it
  let lo = 1;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const tried = await composeWith(input, cut(mid));
    if (tried.raw.length <= COMPOSED_MAX_BYTES) {
      best = tried;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

async function composeWith(input: ComposeInput, quoted: QuotedHeaders | null): Promise<ComposedNotice> {
  const { entry, format, hostname } = input;
  const values = noticeValues(input);
  // the rendered subject gets the same treatment as the original's: a template cannot break the header either
  const subject = sanitizeText(renderTemplate(input.template.subject, values), 400);
  const shortened = quoted?.shortened;
  const note = shortened ? `\r\n${shortenedNote(input.language, shortened.kept)}\r\n` : '';
  const text = `${renderTemplate(input.template.body, values).replace(/\r?\n/g, '\r\n')}\r\n${note}`;
  const messageId = noticeMessageId(entry.id, hostname, input.part ?? 0);
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
              content: composeDeliveryStatus({
                hostname,
                arrivalDate: new Date(entry.receivedAt),
                envid: entry.dsn?.envid,
                recipients: entry.recipients.map((address) => ({
                  address,
                  orcpt: entry.dsn?.recipients.find((r) => r.address === address)?.orcpt,
                })),
              }),
              filename: false,
              // attachment, not inline: parsers such as mailparser would otherwise fold it into the readable text
              contentDisposition: 'attachment',
              headers: { 'Content-Description': 'Delivery report' },
            },
            // with no field left the part is left out: an empty text/rfc822-headers part would say nothing
            ...(quoted && quoted.block.length > 0
              ? [
                  {
                    contentType: 'text/rfc822-headers',
                    ...headersPart(quoted.block),
                    filename: false as const,
                    contentDisposition: 'attachment' as const,
                    headers: {
                      'Content-Description': quoted.shortened
                        ? `Header lines of the undelivered message, shortened: the first ${quoted.shortened.kept} fields`
                        : 'Header lines of the undelivered message',
                    },
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
