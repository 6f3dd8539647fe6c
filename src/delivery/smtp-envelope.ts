// The one way an SMTP envelope reaches nodemailer. A string there is parsed as an RFC 5322 address
// list, so `MAIL FROM:<root,admin,x@attacker.test>` became three recipients of a notice; an address
// object is taken as one mailbox (nodemailer quotes a local-part that is not a dot-atom).
import type Mail from 'nodemailer/lib/mailer/index.js';

interface EnvelopeAddress {
  readonly address: string;
  readonly name: '';
}

/** nodemailer accepts address objects in `envelope` (MimeNode#setEnvelope), though its types say strings. */
interface ObjectEnvelope {
  readonly from: EnvelopeAddress | '';
  readonly to: readonly EnvelopeAddress[];
}

const one = (address: string): EnvelopeAddress => ({ address, name: '' });

/** `from` '' is the null sender `<>`. */
export function smtpEnvelope(from: string, to: readonly string[]): Mail.Envelope {
  const envelope: ObjectEnvelope = { from: from === '' ? '' : one(from), to: to.map(one) };
  return envelope as unknown as Mail.Envelope;
}
