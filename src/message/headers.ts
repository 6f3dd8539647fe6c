// The header facts catchall-guard acts on, read from a message's header block the way mailparser reads
// them, without its stream pipeline: a quarantine flood parsed every header block through a whole
// MailParser (splitter, transform streams, a text node) for eight values. The pieces are mailparser's
// own, at the versions it runs: mailsplit's Headers splits and unfolds, libmime decodes, and mailparser's
// parseAddressHeader formats the From. test/unit/message-facts.test.ts holds this to the old simpleParser
// result over a table and a few hundred generated blocks.
import mailsplit from '@zone-eu/mailsplit';
import libmime from 'libmime';
import { parseAddressHeader } from 'mailparser';

export interface MessageFacts {
  readonly messageId: string | null;
  readonly subject: string | null;
  readonly headerFrom: string | null;
  readonly autoSubmitted: string | null;
  readonly precedence: string | null;
  readonly listId: string | null;
  readonly listUnsubscribe: string | null;
  readonly xAutoResponseSuppress: string | null;
}

export const EMPTY_FACTS: MessageFacts = {
  messageId: null,
  subject: null,
  headerFrom: null,
  autoSubmitted: null,
  precedence: null,
  listId: null,
  listUnsubscribe: null,
  xAutoResponseSuppress: null,
};

/**
 * Only the Message-ID, for the log of a message that is not quarantined: a scan of one header field
 * (unfolded), without a full parse. A missing or empty field gives null.
 */
export function readMessageId(headerBlock: Buffer): string | null {
  const m = /^message-id[ \t]*:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(headerBlock.toString('latin1'));
  const value = m?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
  if (!value) return null;
  const bracketed = /<[^<>\s]+>/.exec(value);
  return (bracketed ? bracketed[0] : value).slice(0, 998);
}

const BLANK_LINES = Buffer.from('\r\n\r\n');
// mailsplit's bound on one node's header block (MAX_HEAD_SIZE), each line counting at least
// HEADER_LINE_MIN_COST bytes: past it mailparser failed the parse, and the facts were empty
const MAX_HEAD_COST = 1024 * 1024;
const HEADER_LINE_MIN_COST = 64;

/**
 * The header block as mailparser's splitter cut it from `block` + CRLF CRLF: the lines (split at LF) up
 * to and including the first empty one. Null where the splitter refused it as too large.
 */
function splitterHead(block: Buffer): Buffer | null {
  const input = Buffer.concat([block, BLANK_LINES]);
  let cost = 0;
  for (let start = 0; ;) {
    // always found: the input ends in CRLF CRLF
    const end = input.indexOf(0x0a, start) + 1;
    const length = end - start;
    const blank = length === 1 || (length === 2 && input[start] === 0x0d);
    cost += blank ? length : Math.max(length, HEADER_LINE_MIN_COST);
    if (cost > MAX_HEAD_COST) return null;
    if (blank) return input.subarray(0, end);
    start = end;
  }
}

// Each field as mailparser's processHeaders has it: unfolded and trimmed, 8-bit bytes read as UTF-8.
const fieldValue = (line: string): string => Buffer.from(libmime.decodeHeader(line).value, 'binary').toString();

function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value; // as mailparser: a value it cannot decode is kept as it came
  }
}

// mailparser's ensureMessageIDFormat: angle brackets added where missing, an empty id is no id
function messageIdOf(value: string): string | null {
  const id = decodeWords(value);
  if (!id) return null;
  return `${id.startsWith('<') ? '' : '<'}${id}${id.endsWith('>') ? '' : '>'}`;
}

/**
 * A List-* field as it stands in the header, unfolded but not decoded (mailparser turns these into a
 * structured `list` object, so the old parse read the raw line too). The line comes from mailsplit's
 * Headers#get, which reads it as UTF-8 when it is valid UTF-8: the old parse kept the raw bytes as
 * latin1, turning an 8-bit UTF-8 list name into mojibake in the entry's JSON.
 */
function listField(headers: InstanceType<typeof mailsplit.Headers>, key: string): string | null {
  const line = headers.get(key)[0];
  return line === undefined
    ? null
    : line
        .slice(line.indexOf(':') + 1)
        .replace(/\r?\n[ \t]+/g, ' ')
        .trim();
}

/** The facts, synchronously. Never throws: a header block that cannot be read gives empty facts. */
export function parseMessageFacts(headerBlock: Buffer): MessageFacts {
  if (headerBlock.length === 0) return EMPTY_FACTS;
  try {
    const head = splitterHead(headerBlock);
    if (head === null) return EMPTY_FACTS;
    const headers = new mailsplit.Headers(head);
    let messageId: string | null = null;
    let subject: string | null = null;
    let headerFrom: string | null = null;
    let autoSubmitted: string | null = null;
    let precedence: string | null = null;
    let xAutoResponseSuppress: string | null = null;
    // The first occurrence wins, as in mailparser, and an empty one does not count except for From (an
    // empty From is a From with no address). The old parse gave null for Auto-Submitted and
    // X-Auto-Response-Suppress when either came twice (mailparser keeps both as a list), which let a
    // twice-marked auto-reply get a notice: here the first one counts, as for every other field.
    for (const { key, line } of headers.getList()) {
      switch (key) {
        case 'message-id':
          messageId ??= messageIdOf(fieldValue(line));
          break;
        case 'subject':
          subject ??= decodeWords(fieldValue(line)) || null;
          break;
        case 'from':
          headerFrom ??= parseAddressHeader(fieldValue(line)).text;
          break;
        case 'auto-submitted':
          autoSubmitted ??= fieldValue(line) || null;
          break;
        case 'precedence':
          precedence ??= fieldValue(line) || null;
          break;
        case 'x-auto-response-suppress':
          xAutoResponseSuppress ??= fieldValue(line) || null;
          break;
      }
    }
    return {
      messageId,
      subject,
      headerFrom,
      autoSubmitted,
      precedence,
      listId: listField(headers, 'list-id'),
      listUnsubscribe: listField(headers, 'list-unsubscribe'),
      xAutoResponseSuppress,
    };
  } catch {
    return EMPTY_FACTS;
  }
}

/** The facts of a quarantined or reject-after-data message. Never rejects (see parseMessageFacts). */
export function readMessageFacts(headerBlock: Buffer): Promise<MessageFacts> {
  return Promise.resolve(parseMessageFacts(headerBlock));
}
