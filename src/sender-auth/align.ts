// Relaxed DMARC identifier alignment (RFC 7489 §3.1): two domains align when their organizational
// domains are equal. mailauth already carries the public-suffix logic (tldts) for its own DMARC check;
// reusing its helper keeps our alignment and mailauth's DMARC verdict on the same suffix list.
import { createRequire } from 'node:module';

type GetAlignment = (
  fromDomain: string,
  domains: readonly string[],
  strict: boolean,
) => { readonly domain: string } | false;

function loadGetAlignment(): GetAlignment | null {
  try {
    const tools: unknown = createRequire(import.meta.url)('mailauth/lib/tools.js');
    const fn = (tools as { getAlignment?: unknown } | null)?.getAlignment;
    return typeof fn === 'function' ? (fn as GetAlignment) : null;
  } catch {
    return null;
  }
}

const getAlignment = loadGetAlignment();

function normalize(domain: string): string {
  return domain.trim().replace(/\.$/, '').toLowerCase();
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : normalize(address.slice(at + 1).replace(/>.*$/, ''));
}

export function isAligned(envelopeDomain: string, fromDomain: string): boolean {
  const a = normalize(envelopeDomain);
  const b = normalize(fromDomain);
  if (!a || !b) return false;
  if (a === b) return true;
  if (getAlignment) return getAlignment(b, [a], false) !== false;
  // without the suffix list only the strict reading is safe: a.example.co.uk vs b.example.co.uk
  // could be two different registrants, so only the identical domain counts
  return false;
}
