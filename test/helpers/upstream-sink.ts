// A real smtp-server as upstream mailbox server or smarthost: records what it accepts, answers as scripted.
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface SinkMessage {
  readonly from: string;
  readonly to: string[];
  readonly raw: Buffer;
  /** Whether the session was under STARTTLS when the message came. */
  readonly secure: boolean;
}

export type SinkMode = 'accept' | 'tempfail' | 'reject' | 'hang';

export interface UpstreamSink {
  readonly port: number;
  readonly messages: SinkMessage[];
  mode: SinkMode;
  /** Per-recipient RCPT answers, by lower-case address. */
  rcptReplies: Map<string, { code: number; text: string }>;
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  close(): Promise<void>;
}

const err = (code: number, text: string): Error & { responseCode: number } =>
  Object.assign(new Error(text), { responseCode: code });

/** `tls`: PEM key and certificate; with them the sink offers STARTTLS (TLS 1.2 or later). */
export interface SinkOptions {
  readonly tls?: { readonly key: string; readonly cert: string };
}

export async function startSink(mode: SinkMode = 'accept', opts: SinkOptions = {}): Promise<UpstreamSink> {
  const messages: SinkMessage[] = [];
  const waiters: Array<() => void> = [];
  const sink: Partial<UpstreamSink> & { mode: SinkMode; rcptReplies: Map<string, { code: number; text: string }> } = {
    mode,
    rcptReplies: new Map(),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' as const } : {}),
    disableReverseLookup: true,
    logger: false,
    onRcptTo(address, _session, cb) {
      const r = sink.rcptReplies.get(address.address.toLowerCase());
      cb(r ? err(r.code, r.text) : null);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        switch (sink.mode) {
          case 'tempfail':
            return cb(err(451, '4.3.0 upstream is busy'));
          case 'reject':
            return cb(err(550, '5.7.1 message refused by policy'));
          case 'hang':
            return; // never answers: the client's timeout must fire
          case 'accept':
            messages.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks),
              secure: session.secure,
            });
            for (const w of waiters.splice(0)) w();
            return cb(null, 'OK upstream queued');
        }
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  const done: UpstreamSink = Object.assign(sink, {
    port,
    messages,
    async waitForMessages(n: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`sink got ${messages.length} of ${n} messages`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return messages;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
  return done;
}

/** A port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
