// Observe mode hands a message for an unknown address to the observe mailbox; the envelope then
// names only that mailbox, so the address the sender used would be lost. Each copy for such a
// mailbox carries it as `X-Original-To:`, one field per original recipient (Postfix records one per
// delivery), prepended above our Received: line, so the owner sees whom a caught message was for.
// Pure.
import type { DeliveryRecipient } from './delivery.js';

/** The recipients that share one copy of the message, by the key of the copy (mailbox or RCPT address). */
export function groupByDestination(
  recipients: readonly DeliveryRecipient[],
  keyOf: (r: DeliveryRecipient) => string,
): Map<string, DeliveryRecipient[]> {
  const groups = new Map<string, DeliveryRecipient[]>();
  for (const r of recipients) {
    const key = keyOf(r);
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  return groups;
}

// an envelope address cannot hold a line break (the SMTP parser ends the command there), but a field
// we write must never be able to start another one, whatever reaches this function
const fieldValue = (address: string): string => address.replace(/[\x00-\x1f\x7f]/g, '');

/**
 * The fields prepended to the copy one group of recipients shares: nothing when none of them came
 * through observe mode (a known recipient is named by the envelope itself); otherwise one
 * `X-Original-To:` per address the sender used, in envelope order, the known ones among them too,
 * so the copy says every address it stands for. No `Delivered-To:`: Postfix and Dovecot bounce a
 * message that already carries `Delivered-To:` with the address they deliver to, as a mail loop.
 */
export function originalToHeaders(group: readonly DeliveryRecipient[]): string {
  if (!group.some((r) => r.originalRecipient !== undefined)) return '';
  const seen = new Set<string>();
  let out = '';
  for (const r of group) {
    const address = fieldValue(r.originalRecipient ?? r.address);
    if (seen.has(address)) continue;
    seen.add(address);
    out += `X-Original-To: ${address}\r\n`;
  }
  return out;
}
