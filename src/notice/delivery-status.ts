// The machine-readable part of a DSN notice (RFC 3464 §2.2, §2.3): one per-message block, then one
// block per unknown recipient. Bounce processors of CRMs and ticket systems read these fields. Pure.
import { formatRfc5322Date } from '../message/date.js';

/** The reply a `reject` domain would have given (SPEC §4), so both modes tell the sender the same thing. */
export function userUnknownDiagnostic(address: string): string {
  return `smtp; 550 5.1.1 <${address}>: recipient address rejected: user unknown`;
}

export function composeDeliveryStatus(input: {
  readonly hostname: string;
  readonly arrivalDate: Date;
  readonly recipients: readonly string[];
}): string {
  const perMessage = [`Reporting-MTA: dns; ${input.hostname}`, `Arrival-Date: ${formatRfc5322Date(input.arrivalDate)}`];
  const perRecipient = input.recipients.map((rcpt) => [
    // RFC 6533: an internationalised address is typed utf-8, not rfc822
    `Final-Recipient: ${/[^\x00-\x7f]/.test(rcpt) ? 'utf-8' : 'rfc822'}; ${rcpt}`,
    'Action: failed',
    'Status: 5.1.1',
    `Diagnostic-Code: ${userUnknownDiagnostic(rcpt)}`,
  ]);
  return [perMessage, ...perRecipient].map((block) => `${block.join('\r\n')}\r\n`).join('\r\n');
}
