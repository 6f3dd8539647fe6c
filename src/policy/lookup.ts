// RCPT address → parsed recipient + directory answer (+ RFC 7293 ownership), and the envelope sender's
// facts the recipient decision needs. Shared by the gateway and `check`, so both decide alike. Pure.
import { parseRecipient, type ParsedRecipient } from '../address/parse.js';
import type { DirectoryAnswer, RecipientDirectory } from '../directory/directory.js';

export function lookupRecipient(
  raw: string,
  directory: RecipientDirectory,
): {
  recipient: ParsedRecipient;
  answer: DirectoryAnswer | null;
  ownership: { readonly mailboxMs?: number; readonly domainMs?: number };
} {
  let recipient = parseRecipient(raw);
  if (recipient.kind === 'bare-postmaster') {
    // RFC 5321 §4.1.1.3: the domainless postmaster is the postmaster of this host's (first) domain
    const domain = directory.primaryDomain;
    recipient = { kind: 'mailbox', address: { localPart: 'postmaster', domain, normalized: `postmaster@${domain}` } };
  }
  if (recipient.kind !== 'mailbox') return { recipient, answer: null, ownership: {} };
  const { domain, localPart } = recipient.address;
  return { recipient, answer: directory.lookup(domain, localPart), ownership: directory.ownership(domain, localPart) };
}

/** From a normalized envelope sender ('' for `<>`): what an address rule's `from` binding is judged on. */
export function senderFacts(sender: string): { readonly nullSender: boolean; readonly senderDomain: string } {
  return { nullSender: sender === '', senderDomain: sender.slice(sender.lastIndexOf('@') + 1).toLowerCase() };
}
