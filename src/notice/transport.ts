// Sends a composed notice: via the configured smarthost, or straight to the sender domain's MX hosts.
// Always `MAIL FROM:<>` and, where the peer offers DSN, `NOTIFY=NEVER`. Never throws: every outcome is
// sent, deferred (retry later) or failed (permanent).
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { smtpEnvelope } from '../delivery/smtp-envelope.js';
import type { DnsResolver } from '../sender-auth/dns.js';
import type { ComposedNotice } from './compose.js';
import { lookupMailHosts } from './mx.js';

export type NoticeSendResult =
  | { readonly kind: 'sent'; readonly response: string }
  | { readonly kind: 'deferred'; readonly reason: string; readonly detail: string }
  | { readonly kind: 'failed'; readonly reason: string; readonly detail: string };

export interface NoticeTransport {
  send(notice: ComposedNotice): Promise<NoticeSendResult>;
}

export interface SmarthostOptions {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly requireTLS: boolean;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
}

export interface TransportOptions {
  /** Our name in EHLO. */
  readonly hostname: string;
  readonly timeoutMs?: number;
}

export interface DirectOptions extends TransportOptions {
  readonly resolver: DnsResolver;
  /** Port 25 in the real world; tests point it at a sink. */
  readonly port?: number;
  /** Allow MX hosts on loopback/link-local addresses (tests only). */
  readonly allowUnroutable?: boolean;
  /** Connections tried per notice before it is deferred. */
  readonly maxAttempts?: number;
}

interface SmtpError {
  readonly code?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly message?: string;
}

const oneLine = (s: string): string =>
  s
    .replace(/[\r\n]+/g, ' ')
    .trim()
    .slice(0, 500);

export function classifySendError(err: unknown): NoticeSendResult {
  const e = (err ?? {}) as SmtpError;
  const detail = oneLine(e.response ?? e.message ?? e.code ?? 'unknown error');
  if (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600)
    return { kind: 'failed', reason: 'rejected', detail };
  // an address nodemailer itself refuses will not become valid by waiting
  if (e.code === 'EENVELOPE' && e.responseCode === undefined)
    return { kind: 'failed', reason: 'invalid-recipient', detail };
  return {
    kind: 'deferred',
    reason: typeof e.responseCode === 'number' ? 'temporary-failure' : 'connection-failed',
    detail,
  };
}

type SmtpOptions = Parameters<typeof nodemailer.createTransport>[0];

async function sendOnce(options: SmtpOptions, notice: ComposedNotice): Promise<NoticeSendResult> {
  const transport = nodemailer.createTransport(options);
  try {
    // nodemailer types the info of a transport built from a plain options object as any
    const info: unknown = await transport.sendMail({
      envelope: smtpEnvelope('', [notice.envelope.to]),
      raw: notice.raw,
      dsn: { notify: 'NEVER' },
    });
    const response =
      typeof info === 'object' && info !== null && 'response' in info && typeof info.response === 'string'
        ? info.response
        : '';
    return { kind: 'sent', response: oneLine(response) };
  } catch (err) {
    return classifySendError(err);
  } finally {
    transport.close();
  }
}

function timeouts(ms: number): { connectionTimeout: number; greetingTimeout: number; socketTimeout: number } {
  return { connectionTimeout: ms, greetingTimeout: ms, socketTimeout: ms };
}

export function createSmarthostTransport(s: SmarthostOptions, opts: TransportOptions): NoticeTransport {
  return {
    send: (notice) =>
      sendOnce(
        {
          host: s.host,
          port: s.port,
          secure: s.secure,
          requireTLS: s.requireTLS,
          name: opts.hostname,
          ...(s.auth ? { auth: { user: s.auth.user, pass: s.auth.pass } } : {}),
          ...timeouts(opts.timeoutMs ?? 60_000),
          // as for upstream delivery: verify the certificate only when TLS is demanded
          tls: { rejectUnauthorized: s.secure || s.requireTLS },
          logger: false,
          debug: false,
        },
        notice,
      ),
  };
}

export function createDirectTransport(opts: DirectOptions): NoticeTransport {
  return {
    async send(notice) {
      const domain = notice.envelope.to.slice(notice.envelope.to.lastIndexOf('@') + 1).toLowerCase();
      const lookup = await lookupMailHosts(domain, opts.resolver, { allowUnroutable: opts.allowUnroutable === true });
      if (lookup.kind === 'temporary') return { kind: 'deferred', reason: 'dns-temporary', detail: lookup.detail };
      if (lookup.kind !== 'hosts') return { kind: 'failed', reason: lookup.kind, detail: `${domain}: ${lookup.kind}` };
      let last: NoticeSendResult = { kind: 'deferred', reason: 'connection-failed', detail: 'no host tried' };
      let tries = 0;
      for (const host of lookup.hosts) {
        for (const address of host.addresses) {
          if (tries++ >= (opts.maxAttempts ?? 5)) return last;
          last = await sendOnce(
            {
              host: address,
              port: opts.port ?? 25,
              secure: false,
              name: opts.hostname,
              ...timeouts(opts.timeoutMs ?? 60_000),
              // opportunistic STARTTLS: MX certificates are often self-signed or for another name, and
              // refusing them would only push the notice back to plain text
              tls: { rejectUnauthorized: false, ...(isIP(host.name) ? {} : { servername: host.name }) },
              logger: false,
              debug: false,
            },
            notice,
          );
          // a 5xx from any MX is the domain's answer; only a 4xx or a dead host moves on to the next
          if (last.kind !== 'deferred') return last;
        }
      }
      return last;
    },
  };
}
