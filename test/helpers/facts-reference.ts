// The header-facts parse as it was before #13: mailparser's whole simpleParser pipeline over the header
// block. Kept only as the reference the lighter parse in src/message/headers.ts is held to
// (test/unit/message-facts.test.ts); nothing in src uses it.
import { simpleParser } from 'mailparser';
import { EMPTY_FACTS, type MessageFacts } from '../../src/message/headers.js';

function headerText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && 'text' in value && typeof value.text === 'string') return value.text;
  if (typeof value === 'object' && 'value' in value) return headerText(value.value);
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : null;
}

/**
 * The two places the new parse differs on purpose, applied to the old one's own parse so that
 * everything else still comes from mailparser:
 * - a field mailparser keeps as a list when it comes twice (Auto-Submitted, X-Auto-Response-Suppress)
 *   gave null, so a twice-marked auto-reply got a notice: the first (non-empty) one counts, as for
 *   Precedence, Subject and Message-ID;
 * - a List-* line in 8-bit UTF-8 was kept as latin1 (mojibake in the entry's JSON): it is read as UTF-8
 *   when it is valid UTF-8, as mailsplit's Headers#get reads a line.
 */
export interface ReferenceOptions {
  readonly amended: boolean;
}

const utf8IfValid = (binary: string): string => {
  const utf8 = Buffer.from(binary, 'binary').toString('utf8');
  return utf8.includes('\uFFFD') ? binary : utf8;
};

export async function referenceMessageFacts(
  headerBlock: Buffer,
  opts: ReferenceOptions = { amended: false },
): Promise<MessageFacts> {
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
      const raw = parsed.headerLines.find((l) => l.key === name)?.line;
      const line = raw !== undefined && opts.amended ? utf8IfValid(raw) : raw;
      return line === undefined
        ? null
        : line
            .slice(line.indexOf(':') + 1)
            .replace(/\r?\n[ \t]+/g, ' ')
            .trim();
    };
    const first = (value: unknown): unknown => (opts.amended && Array.isArray(value) ? (value[0] as unknown) : value);
    const get = (name: string): string | null =>
      name.startsWith('list-') ? rawLine(name) : headerText(first(h.get(name)));
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
