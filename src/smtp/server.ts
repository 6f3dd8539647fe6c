// Builds the smtp-server instance and turns its callback world into async hooks. Wire only: every
// decision comes from the hooks, every reply from replies.ts. The only import of smtp-server outside
// wire-compat.ts.
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { ReplyError, replyForFailure, type SmtpReply } from './replies.js';
import { TLS_POLICY } from './tls-policy.js';
import {
  closeIdleSessions,
  COMMAND_EVENT,
  DEADLINE_EVENT,
  PROXY_FAILED_EVENT,
  RESET_EVENT,
  EARLY_TALKER_EVENT,
  expectProxyHeaderFrom,
  registerServer,
  updateWireOptions,
  type DeadlineKind,
  type WireOptions,
} from './wire-compat.js';

export interface SessionInfo {
  readonly sid: string;
  readonly remoteAddress: string;
  readonly clientHostname: string;
  readonly helo: string;
  readonly secure: boolean;
  /** SMTP, ESMTP, ESMTPS … for the Received header. */
  readonly protocol: string;
}

export type { DeadlineKind };

export interface SmtpHooks {
  /** null: greet the client. */
  connect(s: SessionInfo): Promise<SmtpReply | null>;
  mailFrom(
    s: SessionInfo,
    address: string,
    params: Readonly<Record<string, string | boolean>>,
  ): Promise<SmtpReply | null>;
  /** null: smtp-server answers `250 2.1.5 Accepted`. */
  rcptTo(
    s: SessionInfo,
    address: string,
    params: Readonly<Record<string, string | boolean>>,
  ): Promise<SmtpReply | null>;
  /** Must consume the stream; returns the final reply. */
  data(s: SessionInfo, stream: SMTPServerDataStream, rcpts: readonly string[]): Promise<SmtpReply>;
  /** `remoteAddress` for the log: a client gone before the greeting never reached connect. */
  close(sid: string, remoteAddress: string): void;
  /** The transaction ended without DATA (RSET, HELO/EHLO, STARTTLS), or after it: what it held goes back. */
  reset(sid: string): void;
  /** A client talked before the banner and got 554 5.5.1 (onConnect never ran for it). */
  earlyTalker(sid: string, remoteAddress: string): void;
  /** A wall-clock deadline answered 421 4.4.2 and closed the session. */
  deadline(sid: string, limit: DeadlineKind): void;
  /** The session's first command other than EHLO, HELO, NOOP, RSET or QUIT (its verb only): once per session. */
  command(sid: string, verb: string): void;
  /** A trusted peer's connection ended without a usable PROXY header (`detail`: what was wrong). */
  proxyFailed(peer: string, detail: string): void;
  /** A hook threw: the failure is answered 451 and reported here. */
  failed(where: string, sid: string, err: unknown): void;
}

export interface SmtpServerOptions {
  readonly hostname: string;
  readonly maxMessageSize: number;
  readonly socketTimeoutMs: number;
  readonly greetDelayMs: number;
  readonly dataTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly disableReverseLookup: boolean;
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer } | undefined;
  /**
   * Peers whose connections must start with a PROXY protocol v1 header (`server.proxyProtocol`); the
   * client address in it is the session's. null: nobody's header is read.
   */
  readonly proxyTrusted?: ((peerAddress: string) => boolean) | null;
}

export interface SmtpListener {
  listen(host: string, port: number): Promise<AddressInfo>;
  /** Answers idle sessions 421 and closes them; sessions in DATA finish. */
  closeIdle(reply: SmtpReply): number;
  /** Stops listening; resolves when every session has ended (or the timeout ended them). */
  close(timeoutMs: number): Promise<void>;
  updateTls(tls: { readonly key: Buffer; readonly cert: Buffer }): void;
  /** A reload's `server.proxyProtocol`: applies to connections accepted from now on. */
  updateProxyTrust(trusted: ((peerAddress: string) => boolean) | null): void;
  updateOptions(
    opts: Pick<SmtpServerOptions, 'greetDelayMs' | 'maxMessageSize' | 'dataTimeoutMs' | 'sessionTimeoutMs'>,
  ): void;
}

function sessionInfo(session: SMTPServerSession): SessionInfo {
  return {
    sid: session.id,
    remoteAddress: session.remoteAddress,
    clientHostname: session.clientHostname,
    helo: session.hostNameAppearsAs || '',
    secure: session.secure,
    protocol: session.transmissionType || 'SMTP',
  };
}

function params(address: SMTPServerAddress): Record<string, string | boolean> {
  return address.args || {};
}

type Callback = (err?: Error | null) => void;

function answer(p: Promise<SmtpReply | null>, cb: Callback, onError: (err: unknown) => void): void {
  p.then(
    (r) => cb(r ? new ReplyError(r) : null),
    (err: unknown) => {
      onError(err);
      cb(new ReplyError(replyForFailure(err)));
    },
  );
}

export function createSmtpListener(opts: SmtpServerOptions, hooks: SmtpHooks): SmtpListener {
  const server = new SMTPServer({
    name: opts.hostname,
    banner: 'catchall-guard',
    size: opts.maxMessageSize,
    // an MX: no AUTH; ENHANCEDSTATUSCODES on, since every reply carries one (see wire-compat.ts)
    // WIZ, SHELL and KILL are smtp-server's jokes: a `500` like any unknown command instead
    disabledCommands: ['AUTH', 'WIZ', 'SHELL', 'KILL', ...(opts.tls ? [] : ['STARTTLS'])],
    authOptional: true,
    hideENHANCEDSTATUSCODES: false,
    // DSN (RFC 3461): ENVID, RET, NOTIFY and ORCPT are kept with the envelope and honoured by the notice
    hideDSN: false,
    hideREQUIRETLS: true,
    disableReverseLookup: opts.disableReverseLookup,
    socketTimeout: opts.socketTimeoutMs,
    closeTimeout: 30_000,
    logger: false,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert, ...TLS_POLICY } : {}),
    onConnect(session, cb) {
      answer(hooks.connect(sessionInfo(session)), cb, (err) => hooks.failed('connect', session.id, err));
    },
    onMailFrom(address, session, cb) {
      answer(hooks.mailFrom(sessionInfo(session), address.address, params(address)), cb, (err) =>
        hooks.failed('mail', session.id, err),
      );
    },
    onRcptTo(address, session, cb) {
      answer(hooks.rcptTo(sessionInfo(session), address.address, params(address)), cb, (err) =>
        hooks.failed('rcpt', session.id, err),
      );
    },
    onData(stream, session, cb) {
      const rcpts = session.envelope.rcptTo.map((r) => r.address);
      hooks.data(sessionInfo(session), stream, rcpts).then(
        (r) => (r.code < 400 ? cb(null, `${r.enhanced} ${r.text}`) : cb(new ReplyError(r))),
        (err: unknown) => {
          hooks.failed('data', session.id, err);
          stream.resume();
          cb(new ReplyError(replyForFailure(err)));
        },
      );
    },
    onClose(session) {
      hooks.close(session.id, session.remoteAddress);
    },
  });
  const wire = (o: Pick<SmtpServerOptions, 'greetDelayMs' | 'dataTimeoutMs' | 'sessionTimeoutMs'>): WireOptions => ({
    greetDelayMs: o.greetDelayMs,
    dataTimeoutMs: o.dataTimeoutMs,
    sessionTimeoutMs: o.sessionTimeoutMs,
  });
  registerServer(server, wire(opts));
  let proxyTrusted = opts.proxyTrusted ?? null;
  expectProxyHeaderFrom(server, (peer) => proxyTrusted?.(peer) ?? false);
  // socket errors (resets, TLS garbage) belong to one session and must never take the process down
  server.on('error', () => undefined);
  server.on(EARLY_TALKER_EVENT, (e: { sid: string; remoteAddress: string }) =>
    hooks.earlyTalker(e.sid, e.remoteAddress),
  );
  server.on(DEADLINE_EVENT, (e: { sid: string; limit: DeadlineKind }) => hooks.deadline(e.sid, e.limit));
  server.on(COMMAND_EVENT, (e: { sid: string; command: string }) => hooks.command(e.sid, e.command));
  server.on(RESET_EVENT, (e: { sid: string }) => hooks.reset(e.sid));
  server.on(PROXY_FAILED_EVENT, (e: { peer: string; detail: string }) => hooks.proxyFailed(e.peer, e.detail));

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.server.once('error', onError);
        server.listen({ host, port }, () => {
          server.server.off('error', onError);
          resolve(server.server.address() as AddressInfo);
        });
      });
    },
    closeIdle: (reply) => closeIdleSessions(server, reply),
    close(timeoutMs) {
      return new Promise((resolve) => {
        server.options.closeTimeout = timeoutMs;
        server.close(() => resolve());
      });
    },
    updateTls(tls) {
      server.updateSecureContext({ key: tls.key, cert: tls.cert, ...TLS_POLICY });
    },
    updateProxyTrust(trusted) {
      proxyTrusted = trusted;
    },
    updateOptions(o) {
      server.options.size = o.maxMessageSize;
      updateWireOptions(server, wire(o));
    },
  };
}
