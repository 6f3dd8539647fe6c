// SPF / DMARC for the envelope sender of a quarantined message, via mailauth. Never throws: any failure,
// a DNS outage included, is a `temperror`, which the notice gate counts as "not authenticated".
import type { Readable } from 'node:stream';
import type { DNSResolver } from 'mailauth';
import { domainOf, isAligned } from './align.js';
import { withDnsTimeout, type DnsResolver } from './dns.js';

export type AuthMode = 'spf' | 'dmarc';

// a type, not an interface: it is stored as the entry's open-ended `auth` record
export type SenderAuth = {
  /** mailauth's SPF result: pass | fail | softfail | neutral | none | temperror | permerror. */
  readonly spf: string;
  /** DMARC result, or `skipped` when only SPF was asked for. */
  readonly dmarc: string;
  /** dmarc mode: envelope-sender domain aligned (relaxed) with the From: domain. */
  readonly aligned?: boolean;
};

export interface SenderAuthInput {
  readonly mode: AuthMode;
  readonly sender: string;
  readonly ip: string;
  readonly helo: string;
  /** Our own name, written into mailauth's result comments. */
  readonly hostname: string;
  /** The stored message; only the dmarc mode reads it (DKIM and the From: header). */
  readonly openMessage: () => Readable | null;
}

export const AUTH_TIMEOUT_MS = 20_000;

export const TEMPERROR: SenderAuth = { spf: 'temperror', dmarc: 'temperror' };

function withDeadline<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

// mailauth is loaded on first use: it pulls in joi, tldts and undici, which a server with
// `requireSenderAuth: none` never needs
async function checkSpf(input: SenderAuthInput, resolver: DNSResolver): Promise<SenderAuth> {
  const { spf } = await import('mailauth/lib/spf/index.js');
  const r = await spf({ sender: input.sender, ip: input.ip, helo: input.helo, mta: input.hostname, resolver });
  return { spf: r.status.result, dmarc: 'skipped' };
}

async function checkDmarc(input: SenderAuthInput, resolver: DNSResolver): Promise<SenderAuth> {
  const message = input.openMessage();
  if (!message) return TEMPERROR;
  const { authenticate } = await import('mailauth');
  const r = await authenticate(message, {
    sender: input.sender,
    ip: input.ip,
    helo: input.helo,
    mta: input.hostname,
    resolver,
    disableArc: true,
    disableBimi: true,
  });
  const from = r.dkim.headerFrom.length === 1 ? (r.dkim.headerFrom[0] ?? '') : '';
  return {
    spf: r.spf ? r.spf.status.result : 'none',
    dmarc: r.dmarc ? r.dmarc.status.result : 'none',
    aligned: from !== '' && isAligned(domainOf(input.sender), domainOf(from)),
  };
}

export async function verifySenderAuth(input: SenderAuthInput, resolve: DnsResolver, timeoutMs = AUTH_TIMEOUT_MS): Promise<SenderAuth> {
  // mailauth's resolver type promises string records; ours is the wider dns.resolve shape it really calls
  const resolver = withDnsTimeout(resolve) as DNSResolver;
  const check = input.mode === 'spf' ? checkSpf(input, resolver) : checkDmarc(input, resolver);
  return withDeadline(check, timeoutMs, TEMPERROR);
}
