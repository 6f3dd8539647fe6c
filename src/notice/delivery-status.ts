// The machine-readable part of a DSN notice (RFC 3464 §2.2, §2.3): one per-message block, then one
// block per unknown recipient. Bounce processors of CRMs and ticket systems read these fields. Pure.
import { formatRfc5322Date } from '../message/date.js';

/** The reply a `reject` domain would have given (SPEC §4), so both modes tell the sender the same thing. */
export function userUnknownDiagnostic(address: string): string {
  return `smtp; 550 5.1.1 <${address}>: recipient address rejected: user unknown`;
}

export interface ReportedRecipient {
  readonly address: string;
  /** The client's ORCPT (`rfc822;Jane@example.test`): how the sender's system knows the recipient. */
  readonly orcpt?: string | undefined;
}

export function composeDeliveryStatus(input: {
  readonly hostname: string;
  readonly arrivalDate: Date;
  /** The client's ENVID: the bounce handler matches the report to its own record by it (RFC 3464 §2.2.1). */
  readonly envid?: string | undefined;
  readonly recipients: readonly ReportedRecipient[];
}): string {
  const perMessage = [
    ...(input.envid !== undefined ? [`Original-Envelope-Id: ${input.envid}`] : []),
    `Reporting-MTA: dns; ${input.hostname}`,
    `Arrival-Date: ${formatRfc5322Date(input.arrivalDate)}`,
  ];
  const perRecipient = input.recipients.map(({ address, orcpt }) => [
    // RFC 3464 §2.3.1: the recipient as the sender gave it, before we normalised it
    ...(orcpt !== undefined ? [`Original-Recipient: ${orcpt}`] : []),
    // RFC 6533: an internationalised address is typed utf-8, not rfc822
    `Final-Recipient: ${/[^\x00-\x7f]/.test(address) ? 'utf-8' : 'rfc822'}; ${address}`,
    'Action: failed',
    'Status: 5.1.1',
    `Diagnostic-Code: ${userUnknownDiagnostic(address)}`,
  ]);
  return [perMessage, ...perRecipient].map((block) => `${block.join('\r\n')}\r\n`).join('\r\n');
}
