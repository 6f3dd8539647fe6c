// Synchronous relay to the real mailbox server: its answer decides ours, so nothing waits in a queue.
import { createReadStream } from 'node:fs';
import nodemailer from 'nodemailer';
import type { Delivery, DeliveryOutcome, DeliveryRequest, UpstreamReply } from './delivery.js';
import { upstreamReason } from './reason.js';
import { smtpEnvelope } from './smtp-envelope.js';

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
}

interface SmtpError {
  readonly code?: string;
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
    detail: err.response ?? err.code ?? err.message ?? 'unknown error',
  };
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
    // opportunistic TLS to an internal server often meets a private certificate; verify only when TLS is required
    tls: { rejectUnauthorized: opts.secure || opts.requireTLS },
    logger: false,
    debug: false,
  });
  return {
    async deliver(req: DeliveryRequest): Promise<DeliveryOutcome> {
      const to = [...new Set(req.recipients.map((r) => r.address))];
      try {
        const info = await transport.sendMail({
          envelope: smtpEnvelope(req.mailFrom, to),
          raw: req.message.kind === 'file' ? createReadStream(req.message.path) : req.message.data,
        });
        const rejectedErrors = (info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? [];
        // a recipient refused for now would be lost behind our 250: the whole transaction is retried
        // instead (the accepted recipients may then see it twice, which beats never)
        const temp = rejectedErrors.find((e) => (e.responseCode ?? 400) < 500);
        if (temp) return classifyUpstreamError(temp);
        const rejected = (info.rejected ?? []).length;
        if (rejected > 0 && rejected >= to.length)
          return classifyUpstreamError(rejectedErrors[0] ?? { responseCode: 550 });
        return { kind: 'delivered', detail: String(info.response ?? ''), refused: (info.rejected ?? []).map(String) };
      } catch (err) {
        return classifyUpstreamError(err as SmtpError);
      }
    },
    async close() {
      transport.close();
    },
  };
}
