// A RCPT/MAIL address as smtp-server hands it over → a typed value. Pure.
import { domainToASCII } from 'node:url';

export interface MailAddress {
  /** As received, case preserved. */
  readonly localPart: string;
  /** Lower-case A-label (xn--) form, so Unicode and punycode spellings compare equal. */
  readonly domain: string;
  /** `${lower local-part}@${domain}`: the form used for comparisons and logs. */
  readonly normalized: string;
}

export type RoutingVia = '%' | '!' | 'quoted-at' | 'literal';

export type ParsedRecipient =
  | { readonly kind: 'mailbox'; readonly address: MailAddress }
  | { readonly kind: 'bare-postmaster' }
  | { readonly kind: 'routing-trick'; readonly raw: string; readonly domain: string; readonly via: RoutingVia }
  | { readonly kind: 'malformed'; readonly raw: string; readonly why: string };

/** RFC 5321 §4.5.3.1 limits, in octets. */
const MAX_LOCAL_PART_OCTETS = 64;
const MAX_DOMAIN_OCTETS = 255;

export function toAsciiDomain(domain: string): string {
  const trimmed = domain.trim().replace(/\.$/, '').toLowerCase();
  if (trimmed.startsWith('[')) return trimmed;
  return domainToASCII(trimmed);
}

export function parseRecipient(raw: string): ParsedRecipient {
  const value = raw.trim();
  if (value.toLowerCase() === 'postmaster') return { kind: 'bare-postmaster' };
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return { kind: 'malformed', raw: value, why: 'no local-part or domain' };
  const localPart = value.slice(0, at);
  const rawDomain = value.slice(at + 1);
  if (Buffer.byteLength(localPart) > MAX_LOCAL_PART_OCTETS)
    return { kind: 'malformed', raw: value, why: 'local-part over 64 octets' };
  if (Buffer.byteLength(rawDomain) > MAX_DOMAIN_OCTETS)
    return { kind: 'malformed', raw: value, why: 'domain over 255 octets' };
  if (rawDomain.endsWith('.')) return { kind: 'malformed', raw: value, why: 'trailing dot in the domain' };
  const domain = toAsciiDomain(rawDomain);
  if (!domain) return { kind: 'malformed', raw: value, why: 'invalid domain' };
  if (domain.startsWith('[')) return { kind: 'routing-trick', raw: value, domain, via: 'literal' };
  if (localPart.includes('@')) return { kind: 'routing-trick', raw: value, domain, via: 'quoted-at' };
  if (localPart.includes('%')) return { kind: 'routing-trick', raw: value, domain, via: '%' };
  if (localPart.includes('!')) return { kind: 'routing-trick', raw: value, domain, via: '!' };
  return { kind: 'mailbox', address: { localPart, domain, normalized: `${localPart.toLowerCase()}@${domain}` } };
}

// RFC 5321 §4.1.2 atext, with RFC 6531's UTF-8 (smtp-server offers SMTPUTF8)
const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+)*$/u;
// RFC 5321 §4.1.2 Quoted-string: qtextSMTP or a backslash pair, between double quotes
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;

/**
 * Whether a local-part is one mailbox name (a dot-atom or a quoted string). smtp-server lets
 * `root,admin,x` through, which any RFC 5322 parser downstream reads as three addresses.
 */
export function isMailboxLocalPart(localPart: string): boolean {
  return DOT_ATOM.test(localPart) || QUOTED_STRING.test(localPart);
}

/** The envelope sender: '' for the null sender `<>`. */
export function normalizeSender(raw: string | false | undefined): string {
  if (!raw) return '';
  const at = raw.lastIndexOf('@');
  if (at <= 0) return raw;
  return `${raw.slice(0, at)}@${toAsciiDomain(raw.slice(at + 1)) || raw.slice(at + 1)}`;
}
