// A real smtp-server playing the upstream mailbox server that `verify.upstream` asks: it knows a list
// of mailboxes and answers RCPT by it (or as scripted), counts the probes (RCPTs from the null sender)
// and its connections, and keeps the messages delivered to it.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** `known`: RCPT by the list; `catch-all`: every RCPT 250; `tempfail`: every RCPT 451; `hang`: RCPT never answered. */
export type MailboxServerMode = 'known' | 'catch-all' | 'tempfail' | 'hang';

export interface MailboxServer {
  readonly port: number;
  mode: MailboxServerMode;
  /** Lower-case addresses that exist. */
  readonly mailboxes: Set<string>;
  /** Every address a null-sender RCPT asked about, in order. */
  readonly probes: string[];
  readonly messages: { readonly from: string; readonly to: string[]; readonly raw: Buffer }[];
  /** Connections accepted so far, open now, and the most open at once. */
  readonly connections: { total: number; open: number; maxOpen: number };
  /** Milliseconds each RCPT answer waits (to make probes overlap). */
  rcptDelayMs: number;
  close(): Promise<void>;
}

const smtpError = (code: number, text: string): Error & { responseCode: number } =>
  Object.assign(new Error(text), { responseCode: code });

export async function startMailboxServer(mailboxes: readonly string[] = []): Promise<MailboxServer> {
  const state = {
    mode: 'known' as MailboxServerMode,
    mailboxes: new Set(mailboxes.map((m) => m.toLowerCase())),
    probes: [] as string[],
    messages: [] as MailboxServer['messages'][number][],
    connections: { total: 0, open: 0, maxOpen: 0 },
    rcptDelayMs: 0,
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    // a test's close() should not wait 30 s for a client that has not said QUIT yet
    closeTimeout: 500,
    onConnect(_session, cb) {
      state.connections.total++;
      state.connections.open++;
      state.connections.maxOpen = Math.max(state.connections.maxOpen, state.connections.open);
      cb();
    },
    onClose() {
      state.connections.open--;
    },
    onRcptTo(address, session, cb) {
      const to = address.address.toLowerCase();
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      if (from === '') state.probes.push(to);
      const answer = (): void => {
        switch (state.mode) {
          case 'hang':
            return;
          case 'tempfail':
            return cb(smtpError(451, '4.3.0 mailbox database busy'));
          case 'catch-all':
            return cb();
          case 'known':
            // as a server with recipient_delimiter "+": jane+news is jane's
            return state.mailboxes.has(to) || state.mailboxes.has(to.replace(/\+[^@]*@/, '@'))
              ? cb()
              : cb(smtpError(550, '5.1.1 no such user here'));
        }
      };
      if (state.rcptDelayMs > 0) setTimeout(answer, state.rcptDelayMs);
      else answer();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        state.messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        cb(null, 'OK stored');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(state, {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
