// RCPT address → parsed recipient + directory answer. Shared by the gateway and `check`. Pure.
import { parseRecipient, type ParsedRecipient } from '../address/parse.js';
import type { DirectoryAnswer, RecipientDirectory } from '../directory/directory.js';

export function lookupRecipient(
  raw: string,
  directory: RecipientDirectory,
): { recipient: ParsedRecipient; answer: DirectoryAnswer | null } {
  let recipient = parseRecipient(raw);
  if (recipient.kind === 'bare-postmaster') {
    // RFC 5321 §4.1.1.3: the domainless postmaster is the postmaster of this host's (first) domain
    const domain = directory.primaryDomain;
    recipient = { kind: 'mailbox', address: { localPart: 'postmaster', domain, normalized: `postmaster@${domain}` } };
  }
  const answer =
    recipient.kind === 'mailbox' ? directory.lookup(recipient.address.domain, recipient.address.localPart) : null;
  return { recipient, answer };
}
