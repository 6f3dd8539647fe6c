// A sealed entry's notices, composed at receipt from the header block in memory (SPEC §5): the server
// cannot read a sealed message back, so what the sender is to be told is written down before sealing,
// in clear (it holds only what goes to the sender anyway), and deleted once the notice is settled.
import { z } from 'zod';

export interface PendingNotice {
  /** The served domain this notice is from (SPEC §6: one notice per domain). */
  readonly domain: string;
  readonly to: string;
  readonly messageId: string;
  /** The notice as it goes on the wire, before DKIM signing (which happens at send time). */
  readonly raw: Buffer;
}

const fileSchema = z.object({
  notices: z.array(z.object({ domain: z.string(), to: z.string(), messageId: z.string(), raw: z.string() })),
});

/** latin1: byte for byte, whatever the composer produced. */
export function encodeComposedNotices(notices: readonly PendingNotice[]): string {
  return `${JSON.stringify(
    {
      notices: notices.map((n) => ({
        domain: n.domain,
        to: n.to,
        messageId: n.messageId,
        raw: n.raw.toString('latin1'),
      })),
    },
    null,
    2,
  )}\n`;
}

export function decodeComposedNotices(text: string): PendingNotice[] | null {
  try {
    const r = fileSchema.safeParse(JSON.parse(text));
    if (!r.success) return null;
    return r.data.notices.map((n) => ({ ...n, raw: Buffer.from(n.raw, 'latin1') }));
  } catch {
    return null;
  }
}
