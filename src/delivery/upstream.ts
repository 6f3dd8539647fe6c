// Synchronous relay to the real mailbox server: its answer decides ours, so nothing waits in a queue.
import nodemailer from 'nodemailer';
import type { Delivery, DeliveryOutcome, DeliveryRequest, UpstreamReply } from './delivery.js';
import { groupByDestination, originalToHeaders } from './original-to.js';
import { rawWithPrefix } from './prefixed-copy.js';
import { isTlsFailure, upstreamReason } from './reason.js';
import { smtpEnvelope } from './smtp-envelope.js';
// nodemailer's dot-stuffing replaced by a byte-identical one that is 5 times cheaper (1 MB profile)
import './dot-stuffing.js';

export interface UpstreamOptions {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly requireTLS: boolean;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
  /** Milliseconds for connect, greeting and every socket inactivity. */
  readonly timeout: number;
  /** Our own name in EHLO. */
  readonly name: string;
  /** How the upstream's certificate is checked (build.ts derives `verify` from the settings). */
  readonly tls: UpstreamTls;
}

export interface UpstreamTls {
  /** Refuse a certificate that does not chain to a trusted CA or does not name `servername` (or the host). */
  readonly verify: boolean;
  /** PEM certificates to trust instead of Node's bundled CAs (a private CA). */
  readonly ca?: Buffer | undefined;
  /** The name for SNI and for the certificate check, when `host` is an IP address or another name. */
  readonly servername?: string | undefined;
}

interface SmtpError {
  readonly code?: string;
  readonly originalCode?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly message?: string;
}

export function parseUpstreamReply(code: number, response: string | undefined): UpstreamReply {
  const text = (response ?? '').replace(/[\r\n]+/g, ' ').trim();
  const m = /^\d{3}[ -]((?:[245])\.\d{1,3}\.\d{1,3})\s*(.*)$/.exec(text);
  return m ? { code, enhanced: m[1], text: m[2] ?? '' } : { code, text: text.replace(/^\d{3}[ -]/, '') };
}

/** Refusals of this message (MAIL, RCPT, DATA); anything before (greeting, TLS, AUTH) is our problem. */
const MESSAGE_REFUSALS = new Set(['EENVELOPE', 'EMESSAGE']);

export function classifyUpstreamError(err: SmtpError): DeliveryOutcome {
  const code = err.responseCode;
  // a 5xx to AUTH, STARTTLS or the greeting is a local misconfiguration (wrong password, TLS policy):
  // bouncing the sender's mail for it would be wrong, so it is a 451 while the operator fixes it
  const refusesMessage = err.code === undefined || MESSAGE_REFUSALS.has(err.code);
  if (typeof code === 'number' && code >= 500 && code < 600 && refusesMessage)
    return { kind: 'permanent', upstream: parseUpstreamReply(code, err.response) };
  return {
    kind: 'temporary',
    source: 'upstream',
    reason: upstreamReason(err),
    // a certificate problem says what it is only in the message ("self-signed certificate")
    detail: err.response ?? (isTlsFailure(err) ? err.message : undefined) ?? err.code ?? err.message ?? 'unknown error',
  };
}

/**
 * The answer for a transaction handed on in several upstream transactions, none of them temporary:
 * permanent when every one was refused, else delivered, with the recipients of a refused one
 * among `refused` (logged; the others have the message). Pure.
 */
export function combineBatches(
  done: readonly { readonly to: readonly string[]; readonly outcome: DeliveryOutcome }[],
): DeliveryOutcome {
  const delivered = done.filter((d) => d.outcome.kind === 'delivered');
  const first = done[0];
  if (delivered.length === 0 && first) return first.outcome;
  const refused: string[] = [];
  for (const d of done) {
    if (d.outcome.kind === 'delivered') refused.push(...(d.outcome.refused ?? []));
    else refused.push(...d.to);
  }
  const detail = delivered.map((d) => (d.outcome.kind === 'delivered' ? d.outcome.detail : '')).join('; ');
  return { kind: 'delivered', detail, refused };
}

export function createUpstreamDelivery(opts: UpstreamOptions): Delivery {
  // a small pool: per-message connection setup would dominate the cost of relaying small mail
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 8,
    maxMessages: 100,
    host: opts.host,
    port: opts.port,
    secure: opts.secure,
    requireTLS: opts.requireTLS,
    name: opts.name,
    ...(opts.auth ? { auth: { user: opts.auth.user, pass: opts.auth.pass } } : {}),
    connectionTimeout: opts.timeout,
    greetingTimeout: opts.timeout,
    socketTimeout: opts.timeout,
    // opportunistic TLS to an internal server often meets a private certificate: build.ts verifies only
    // when TLS is required or a CA is given, unless delivery.smtp.tls.verify says otherwise
    tls: {
      rejectUnauthorized: opts.tls.verify,
      ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
      ...(opts.tls.servername ? { servername: opts.tls.servername } : {}),
    },
    logger: false,
    debug: false,
  });
  /** One upstream transaction: `to` as RCPTs, the message with `prefix` in front. */
  async function send(message: DeliveryRequest['message'], mailFrom: string, to: string[], prefix: string) {
    try {
      const info = await transport.sendMail({
        envelope: smtpEnvelope(mailFrom, to),
        raw: rawWithPrefix(message, prefix),
      });
      const rejectedErrors = (info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? [];
      // a recipient refused for now would be lost behind our 250: the whole transaction is retried
      // instead (the accepted recipients may then see it twice, which beats never)
      const temp = rejectedErrors.find((e) => (e.responseCode ?? 400) < 500);
      if (temp) return classifyUpstreamError(temp);
      const rejected = (info.rejected ?? []).length;
      if (rejected > 0 && rejected >= to.length)
        return classifyUpstreamError(rejectedErrors[0] ?? { responseCode: 550 });
      const refused = (info.rejected ?? []).map(String);
      return { kind: 'delivered' as const, detail: String(info.response ?? ''), refused };
    } catch (err) {
      return classifyUpstreamError(err as SmtpError);
    }
  }
  return {
    async deliver(req: DeliveryRequest): Promise<DeliveryOutcome> {
      // known recipients share one upstream transaction; an observe mailbox gets its own, since its
      // copy carries X-Original-To for the addresses it stands for and no other recipient may see them
      const batches: Array<{ readonly to: string[]; readonly prefix: string }> = [];
      const plain: string[] = [];
      for (const [address, group] of groupByDestination(req.recipients, (r) => r.address)) {
        const prefix = originalToHeaders(group);
        if (prefix === '') plain.push(address);
        else batches.push({ to: [address], prefix });
      }
      if (plain.length > 0) batches.unshift({ to: plain, prefix: '' });
      const done: Array<{ readonly to: readonly string[]; readonly outcome: DeliveryOutcome }> = [];
      for (const b of batches) {
        const outcome = await send(req.message, req.mailFrom, b.to, b.prefix);
        // the sender retries the whole transaction: the batches already handed on may see it twice
        if (outcome.kind === 'temporary') return outcome;
        done.push({ to: b.to, outcome });
      }
      return combineBatches(done);
    },
    async close() {
      transport.close();
    },
  };
}
