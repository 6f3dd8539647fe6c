// The ONE place that knows smtp-server internals (checked against 3.21.6; the suites in test/smtp pin
// the behaviour on the wire). The gaps closed here:
//  1. Reply texts that already carry an enhanced status code (every reply of ours does) must not get
//     a second, derived one: with enhanced codes on, smtp-server derives them from the numeric code
//     (550 → 5.1.1 even for relay denial).
//  2. The pre-greeting pause is fixed at 100 ms in smtp-server; SPEC's `greetDelay` makes it a
//     setting (0 = banner at once), and an early talker gets 554 5.5.1 instead of 421.
//  3. HELO/EHLO errors get an enhanced code like every other error reply.
//  4. smtp-server's socketTimeout is an idle timer: a client sending one byte a second holds a DATA
//     phase or a session open for ever. `dataTimeout` and `sessionTimeout` are wall-clock bounds.
//  5. EHLO advertises RRVS (RFC 7293), which smtp-server does not know; the gateway checks the parameter.
//  6. Which peers must send a PROXY protocol header: smtp-server's `useProxy` lists exact addresses,
//     `server.proxyProtocol.trusted` takes CIDR ranges and changes on a reload.
//  8. A trusted peer's connection whose PROXY header is refused (`* BAD Invalid PROXY header`) or never
//     comes reaches no session and no hook: it is told (PROXY_FAILED_EVENT), so a balancer that sends
//     none or a malformed one does not leave the MX silently dead.
//  7. smtp-server tells of MAIL, RCPT and DATA but not of VRFY, EXPN, STARTTLS, an unknown command or
//     AUTH: the first command of a session beyond a greeting and a goodbye is told (COMMAND_EVENT), so
//     a loopback session that uses the server is logged like any other (observability/quiet-probes.ts).
//  9. smtp-server has no hook for the end of a transaction without DATA (RSET, HELO/EHLO, STARTTLS):
//     it is told (RESET_EVENT), so what the transaction held (a sealed message's memory) goes back.
import { performance } from 'node:perf_hooks';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPServer } from 'smtp-server';
import { replies, type SmtpReply } from './replies.js';

export interface WireOptions {
  readonly greetDelayMs: number;
  /** Wall-clock bound for one DATA phase (the client sending the message); 0 = none. */
  readonly dataTimeoutMs: number;
  /** Wall-clock bound for one session; 0 = none. */
  readonly sessionTimeoutMs: number;
}

export type DeadlineKind = 'data' | 'session';

const registered = new WeakMap<SMTPServer, WireOptions>();
export const EARLY_TALKER_EVENT = 'catchall-guard:early-talker';
/** Emitted with `{ sid, remoteAddress, limit }` when a deadline closes a session. */
export const DEADLINE_EVENT = 'catchall-guard:deadline';
/** How often a deadline that fell while our own handler was busy looks again: we never cut off our own answer. */
const DEADLINE_RECHECK_MS = 1000;
const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
/** Emitted once per session with `{ sid, command }`: its first command that is not one of QUIET_COMMANDS. */
export const COMMAND_EVENT = 'catchall-guard:command';
/** What a health probe or a connectivity check sends: nothing that uses the server. */
export const QUIET_COMMANDS: ReadonlySet<string> = new Set(['EHLO', 'HELO', 'NOOP', 'RSET', 'QUIT']);
/** The verb as logged: a client's bytes, so only a plain word of at most 16 characters. */
export function commandVerb(line: string): string {
  const verb = line.split(' ', 1)[0]?.toUpperCase() ?? '';
  return /^[A-Z0-9_-]{1,16}$/.test(verb) ? verb : 'UNKNOWN';
}
/** Emitted with `{ sid }` whenever smtp-server resets a session's transaction (RSET, HELO/EHLO, STARTTLS, after DATA). */
export const RESET_EVENT = 'catchall-guard:reset';
/** Sessions whose first non-quiet command was told. */
const told = new WeakSet<SMTPConnection>();
let installed = false;

function install(): void {
  if (installed) return;
  const proto = SMTPConnection.prototype;
  if (
    typeof proto.send !== 'function' ||
    typeof proto._setListeners !== 'function' ||
    typeof proto.connectionReady !== 'function' ||
    typeof proto.handler_DATA !== 'function' ||
    typeof proto._onCommand !== 'function'
  ) {
    throw new Error('smtp-server internals changed: review src/smtp/wire-compat.ts');
  }
  installed = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called as original.call(connection)
  const originalSend = proto.send;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called as original.call(connection)
  const originalInit = proto.init;

  proto.send = function send(
    this: SMTPConnection,
    code: number,
    data?: string | string[] | null,
    context?: string | false,
  ): void {
    // the EHLO reply: smtp-server knows nothing of RFC 7293, whose RRVS parameter the gateway handles
    if (Array.isArray(data) && code === 250 && data.includes('PIPELINING') && registered.has(this._server)) {
      originalSend.call(this, code, [...data.slice(0, -1), 'RRVS', ...data.slice(-1)], context);
      return;
    }
    if (typeof data === 'string' && registered.has(this._server)) {
      if (code === 421 && data.endsWith('You talk too soon')) {
        // the session never started, so no onConnect ran: tell the adapter, so it is logged all the same
        this._server.emit(EARLY_TALKER_EVENT, { sid: this.id, remoteAddress: this.remoteAddress });
        const r = replies.earlyTalker();
        originalSend.call(this, r.code, `${r.enhanced} ${r.text}`, false);
        this.close();
        return;
      }
      if (code === 421 && data === 'Server shutting down') {
        const r = replies.shuttingDown();
        originalSend.call(this, r.code, `${r.enhanced} ${r.text}`, false);
        return;
      }
      if (ENHANCED_PREFIX.test(data)) {
        originalSend.call(this, code, data, false);
        return;
      }
      // smtp-server leaves HELO/EHLO errors without an enhanced code (RFC 2034 allows it); we advertise
      // ENHANCEDSTATUSCODES, so every error carries one (501 → 5.5.4, derived as for other commands)
      if (code >= 400 && context === false) {
        originalSend.call(this, code, data, undefined);
        return;
      }
    }
    originalSend.call(this, code, data, context);
  };

  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called as original.call(connection)
  const originalCommand = proto._onCommand;
  proto._onCommand = function onCommand(this: SMTPConnection, command: Buffer, callback?: () => void): void {
    if (!told.has(this) && registered.has(this._server)) {
      // a continuation line (AUTH's answers) counts as the command it continues
      const verb = this._nextHandler ? 'AUTH' : commandVerb((command || '').toString());
      if (!QUIET_COMMANDS.has(verb)) {
        told.add(this);
        this._server.emit(COMMAND_EVENT, { sid: this.id, command: verb });
      }
    }
    originalCommand.call(this, command, callback);
  };

  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called as original.call(connection)
  const originalReset = proto._resetSession;
  proto._resetSession = function resetSession(this: SMTPConnection): void {
    originalReset.call(this);
    // synchronous, before the reply to RSET or EHLO is sent: the next command sees the share returned
    if (registered.has(this._server)) this._server.emit(RESET_EVENT, { sid: this.id });
  };

  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called as original.call(connection)
  const originalData = proto.handler_DATA;
  proto.handler_DATA = function handlerData(this: SMTPConnection, command: Buffer, callback: () => void): void {
    originalData.call(this, command, callback);
    const opts = registered.get(this._server);
    const stream = this._dataStream;
    if (!opts || !stream || opts.dataTimeoutMs <= 0) return;
    // only while the client still owes us message bytes: once the final dot is in, the time is ours
    const stillReceiving = (): boolean =>
      this._dataStream === stream && this._parser !== false && this._parser._dataMode;
    setTimeout(() => {
      if (stillReceiving()) cutOff(this, 'data');
    }, opts.dataTimeoutMs).unref();
  };

  proto.init = function init(this: SMTPConnection): void {
    const opts = registered.get(this._server);
    if (!opts) {
      originalInit.call(this);
      return;
    }
    // smtp-server fills the session's addresses in only when the greeting is due: a client gone during
    // greetDelay is still logged with its address when it closes (gateway.ts, `reason: client-gone`)
    this.session.remoteAddress = this.remoteAddress;
    if (opts.sessionTimeoutMs > 0) {
      const socket = this._socket;
      const check = (): void => {
        if (this._closing || this._closed) return;
        // our own handler is deciding (a delivery in flight): its reply goes out first
        const ours = this._handlerPending || (this._dataStream && this._parser !== false && !this._parser._dataMode);
        if (ours) setTimeout(check, DEADLINE_RECHECK_MS).unref();
        else cutOff(this, 'session');
      };
      const timer = setTimeout(check, opts.sessionTimeoutMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    this._setListeners(() => {
      if (opts.greetDelayMs <= 0) {
        this.connectionReady();
        return;
      }
      setTimeout(() => this.connectionReady(), opts.greetDelayMs).unref();
    });
  };
}

/** 421 4.4.2 and the connection closes; an unfinished message is dropped (the client was told to retry). */
function cutOff(conn: SMTPConnection, limit: DeadlineKind): void {
  if (conn._closing || conn._closed) return;
  const r = limit === 'data' ? replies.dataTimeout() : replies.sessionTimeout();
  conn._server.emit(DEADLINE_EVENT, { sid: conn.id, remoteAddress: conn.remoteAddress, limit });
  conn.send(r.code, `${r.enhanced} ${r.text}`, false);
  conn.close();
  // a client that never reads or closes must not keep the socket: give the 421 a moment, then end it
  const socket = conn._socket;
  setTimeout(() => socket.destroy(), DEADLINE_RECHECK_MS).unref();
}

export function registerServer(server: SMTPServer, opts: WireOptions): void {
  install();
  registered.set(server, opts);
}

export function updateWireOptions(server: SMTPServer, opts: WireOptions): void {
  registered.set(server, opts);
}

/** Emitted with `{ peer, detail }` when a trusted peer's connection ends without a usable PROXY header. */
export const PROXY_FAILED_EVENT = 'catchall-guard:proxy-failed';
/** A peer that keeps a connection this long without a header is a client waiting for our greeting. */
export const PROXY_WAIT_REPORTED_MS = 5000;

/**
 * What went wrong with a trusted peer's PROXY header, from smtp-server's error; null when nothing is
 * worth telling: a peer that connects and closes at once (a balancer's TCP health check) sent nothing
 * to judge.
 */
export function proxyFailure(message: string, waitedMs: number, timedOut: boolean): string | null {
  if (message === 'Invalid PROXY header') return 'the first line is not a PROXY header';
  if (message === 'Invalid PROXY source address') return 'the client address in the header is not an IP address';
  if (message === 'PROXY header line too long') return 'the header line is longer than 1024 bytes';
  if (timedOut) return 'no header before server.socketTimeout';
  if (waitedMs >= PROXY_WAIT_REPORTED_MS)
    return `no header in ${Math.round(waitedMs / 1000)} s before the peer closed the connection`;
  return null;
}

/**
 * The one question smtp-server asks of every accepted socket before the session (and before the
 * greeting): must it start with a PROXY header? Answered by `trusted` for the peer's own address.
 */
export function expectProxyHeaderFrom(server: SMTPServer, trusted: (peerAddress: string) => boolean): void {
  if (typeof server._expectsProxyHeader !== 'function' || typeof server._handleProxy !== 'function')
    throw new Error('smtp-server internals changed: review src/smtp/wire-compat.ts');
  server._expectsProxyHeader = (socket) => trusted(socket.remoteAddress ?? '');
  const originalHandleProxy = server._handleProxy.bind(server);
  server._handleProxy = (socket, callback) => {
    const started = performance.now();
    let timedOut = false;
    // smtp-server's own idle timer ends a peer that never sends the header
    socket.once('timeout', () => (timedOut = true));
    const peer = socket.remoteAddress ?? '';
    originalHandleProxy(socket, (err, opts) => {
      const detail = err ? proxyFailure(err.message, performance.now() - started, timedOut) : null;
      if (detail !== null) server.emit(PROXY_FAILED_EVENT, { peer, detail });
      callback(err, opts);
    });
  };
}

/** Sessions between transactions are told to go away now; sessions inside DATA are left to finish. */
export function closeIdleSessions(server: SMTPServer, r: SmtpReply): number {
  let closed = 0;
  for (const conn of server.connections) {
    if (conn._dataStream || conn._handlerPending) continue;
    conn.send(r.code, `${r.enhanced} ${r.text}`, false);
    closed++;
  }
  return closed;
}
