// One client connection to the upstream mailbox server, for RCPT probes: greeting, EHLO, STARTTLS,
// AUTH PLAIN, then one command at a time. nodemailer's SMTPConnection only sends whole messages
// (MAIL, RCPT and DATA in one go, pipelined when offered): a probe must stop after RCPT and RSET
// the same connection, which it can do only through private methods, so this is a small client of
// its own.
import net from 'node:net';
import tls from 'node:tls';
import type { UpstreamTls } from '../delivery/upstream.js';

export interface ProbeReply {
  readonly code: number;
  /** Every line's text, joined by a space, without the codes. */
  readonly text: string;
  readonly lines: readonly string[];
}

export interface ProbeConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Implicit TLS from the first byte. */
  readonly secure: boolean;
  /** STARTTLS must be offered; without it STARTTLS is used when offered. */
  readonly requireTLS: boolean;
  /** The certificate check, as delivery.smtp.tls says (the same as for delivery). */
  readonly tls: UpstreamTls;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
  /** Our name in EHLO. */
  readonly name: string;
  /** Milliseconds for the connection and for each reply. */
  readonly timeoutMs: number;
}

export interface ProbeConnection {
  /** Sends one command line and resolves with its reply; rejects when the connection fails or times out. */
  command(line: string): Promise<ProbeReply>;
  /** The extensions the server named in its EHLO reply: upper-case keyword → its parameters. */
  readonly extensions: ReadonlyMap<string, string>;
  isClosed(): boolean;
  /** Called once, when the connection is gone (either side closed it). */
  onClose(listener: () => void): void;
  /** QUIT, then close. */
  quit(): void;
  destroy(): void;
}

/** A failure of the conversation itself, with a stable code: ECONNECT, ETIMEDOUT, ECLOSED, EPROTOCOL, ETLS, EAUTH. */
export class ProbeConnectionError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly reply?: ProbeReply,
  ) {
    super(message);
  }
}

/** A reply longer than this is not an SMTP server talking: the connection is dropped. */
const MAX_REPLY_BYTES = 64 * 1024;

/** Multi-line replies (`250-…` then `250 …`) become one ProbeReply. */
function createReplyReader(onReply: (r: ProbeReply) => void, onOverflow: () => void): (chunk: Buffer) => void {
  let buffered = '';
  let lines: string[] = [];
  return (chunk) => {
    buffered += chunk.toString('utf8');
    if (buffered.length > MAX_REPLY_BYTES) return onOverflow();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).replace(/\r$/, '');
      buffered = buffered.slice(nl + 1);
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!m) return onOverflow();
      lines.push(m[3] ?? '');
      if (m[2] !== '-') {
        const reply = { code: Number(m[1]), text: lines.join(' ').trim(), lines };
        lines = [];
        onReply(reply);
      }
    }
  };
}

const describe = (r: ProbeReply): string => `${r.code} ${r.text}`;

export async function openProbeConnection(opts: ProbeConnectionOptions): Promise<ProbeConnection> {
  let socket: net.Socket = opts.secure
    ? tls.connect({ host: opts.host, port: opts.port, ...tlsOptions(opts) })
    : net.connect({ host: opts.host, port: opts.port });
  let closed = false;
  const closeListeners: Array<() => void> = [];
  let pending: {
    resolve: (r: ProbeReply) => void;
    reject: (e: ProbeConnectionError) => void;
    timer: NodeJS.Timeout;
  } | null = null;

  const fail = (err: ProbeConnectionError): void => {
    const p = pending;
    pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    socket.destroy();
  };
  const markClosed = (): void => {
    if (closed) return;
    closed = true;
    fail(new ProbeConnectionError('ECLOSED', 'the upstream closed the connection'));
    for (const l of closeListeners.splice(0)) l();
  };

  const reader = (): ((chunk: Buffer) => void) =>
    createReplyReader(
      (reply) => {
        const p = pending;
        // a reply nobody asked for is the server going away (421 on its idle timeout)
        if (!p) return fail(new ProbeConnectionError('ECLOSED', `unsolicited reply: ${describe(reply)}`, reply));
        pending = null;
        clearTimeout(p.timer);
        p.resolve(reply);
      },
      () => fail(new ProbeConnectionError('EPROTOCOL', 'the upstream does not speak SMTP')),
    );

  const attach = (s: net.Socket): void => {
    s.on('data', reader());
    s.on('error', (err: NodeJS.ErrnoException) =>
      fail(new ProbeConnectionError(closed ? 'ECLOSED' : 'ECONNECT', err.code ?? err.message)),
    );
    s.on('close', markClosed);
  };
  attach(socket);

  /** Waits for the next reply (the greeting, or the answer to what was just written). */
  const next = (): Promise<ProbeReply> =>
    new Promise<ProbeReply>((resolve, reject) => {
      if (closed) return reject(new ProbeConnectionError('ECLOSED', 'the connection is closed'));
      const timer = setTimeout(
        () => fail(new ProbeConnectionError('ETIMEDOUT', `no reply within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
      pending = { resolve, reject, timer };
    });

  const command = (line: string): Promise<ProbeReply> => {
    if (pending) return Promise.reject(new ProbeConnectionError('EPROTOCOL', 'a command is already waiting'));
    const reply = next();
    socket.write(`${line}\r\n`);
    return reply;
  };

  const expect2xx = async (line: string | null, what: string): Promise<ProbeReply> => {
    const r = line === null ? await next() : await command(line);
    if (r.code < 200 || r.code > 299)
      throw new ProbeConnectionError(r.code >= 500 ? 'EPROTOCOL' : 'ETEMP', `${what}: ${describe(r)}`, r);
    return r;
  };

  const ehlo = async (): Promise<Map<string, string>> => {
    const r = await command(`EHLO ${opts.name}`);
    if (r.code >= 200 && r.code < 300) return extensionsOf(r);
    // RFC 5321 §4.1.1.1: a server without ESMTP still speaks HELO
    await expect2xx(`HELO ${opts.name}`, 'HELO');
    return new Map();
  };

  try {
    await expect2xx(null, 'greeting');
    let extensions = await ehlo();
    if (!opts.secure && (extensions.has('STARTTLS') || opts.requireTLS)) {
      if (!extensions.has('STARTTLS'))
        throw new ProbeConnectionError('ETLS', 'delivery.smtp.requireTLS, and the upstream offers no STARTTLS');
      await expect2xx('STARTTLS', 'STARTTLS');
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      socket = await upgrade(socket, opts);
      attach(socket);
      extensions = await ehlo();
    }
    if (opts.auth) {
      if (!/(^|\s)PLAIN(\s|$)/.test(extensions.get('AUTH') ?? ''))
        throw new ProbeConnectionError('EAUTH', 'delivery.smtp.auth, and the upstream offers no AUTH PLAIN');
      const token = Buffer.from(`\0${opts.auth.user}\0${opts.auth.pass}`).toString('base64');
      const r = await command(`AUTH PLAIN ${token}`);
      if (r.code !== 235) throw new ProbeConnectionError('EAUTH', `AUTH PLAIN: ${describe(r)}`, r);
    }
    const ready = extensions;
    return {
      command,
      extensions: ready,
      isClosed: () => closed,
      onClose(listener) {
        if (closed) listener();
        else closeListeners.push(listener);
      },
      quit() {
        if (closed) return;
        socket.end('QUIT\r\n');
        // a server that never answers QUIT must not keep the socket
        setTimeout(() => socket.destroy(), 1000).unref();
      },
      destroy: () => socket.destroy(),
    };
  } catch (err) {
    socket.destroy();
    if (err instanceof ProbeConnectionError) throw err;
    throw new ProbeConnectionError('ECONNECT', err instanceof Error ? err.message : String(err));
  }
}

/** `250-AUTH PLAIN LOGIN` → AUTH: `PLAIN LOGIN`; the first line is the server's name, not an extension. */
function extensionsOf(r: ProbeReply): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of r.lines.slice(1)) {
    const [keyword = '', ...params] = line.trim().toUpperCase().split(/\s+/);
    if (keyword) out.set(keyword, params.join(' '));
  }
  return out;
}

function tlsOptions(opts: ProbeConnectionOptions): tls.ConnectionOptions {
  const name = opts.tls.servername ?? (net.isIP(opts.host) ? undefined : opts.host);
  return {
    rejectUnauthorized: opts.tls.verify,
    ...(name !== undefined ? { servername: name } : {}),
    ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
  };
}

function upgrade(plain: net.Socket, opts: ProbeConnectionOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket: plain, ...tlsOptions(opts) });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new ProbeConnectionError('ETIMEDOUT', `TLS handshake took over ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(new ProbeConnectionError('ETLS', err.message));
    });
  });
}
