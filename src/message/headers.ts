// The header facts catchall-guard acts on, parsed from a message's header block with mailparser.
import { simpleParser } from 'mailparser';

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

function headerText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && 'text' in value && typeof value.text === 'string') return value.text;
  if (typeof value === 'object' && 'value' in value) return headerText(value.value);
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : null;
}

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

/** Never throws: a header block mailparser cannot read gives empty facts, not a failed transaction. */
export async function readMessageFacts(headerBlock: Buffer): Promise<MessageFacts> {
  if (headerBlock.length === 0) return EMPTY_FACTS;
  try {
    // only the header block is handed over, so a 25 MB body is never parsed
    const parsed = await simpleParser(Buffer.concat([headerBlock, Buffer.from('\r\n\r\n')]), {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipImageLinks: true,
      skipTextLinks: true,
    });
    const h = parsed.headers;
    // mailparser folds the List-* headers into one structured `list` header: read those from the raw lines
    const rawLine = (name: string): string | null => {
      const line = parsed.headerLines.find((l) => l.key === name)?.line;
      return line === undefined
        ? null
        : line
            .slice(line.indexOf(':') + 1)
            .replace(/\r?\n[ \t]+/g, ' ')
            .trim();
    };
    const get = (name: string): string | null => (name.startsWith('list-') ? rawLine(name) : headerText(h.get(name)));
    return {
      messageId: parsed.messageId ?? null,
      subject: parsed.subject ?? null,
      headerFrom: parsed.from?.text ?? null,
      autoSubmitted: get('auto-submitted'),
      precedence: get('precedence'),
      listId: get('list-id'),
      listUnsubscribe: get('list-unsubscribe'),
      xAutoResponseSuppress: get('x-auto-response-suppress'),
    };
  } catch {
    return EMPTY_FACTS;
  }
}
