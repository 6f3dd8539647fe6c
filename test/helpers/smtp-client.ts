// Clients for tests: a raw socket that speaks line by line, and nodemailer for whole messages.
import net from 'node:net';
import nodemailer from 'nodemailer';

export interface Reply {
  readonly code: number;
  /** All lines joined with \n, codes stripped. */
  readonly text: string;
  /** The last line as on the wire (`550 5.1.1 …`). */
  readonly line: string;
}

export class RawSmtp {
  private buf = '';
  private waiting: Array<(r: Reply) => void> = [];
  private replies: Reply[] = [];
  private pending: string[] = [];
  readonly closed: Promise<void>;
  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(
    port: number,
    opts: { waitGreeting?: boolean } = {},
  ): Promise<{ client: RawSmtp; greeting: Reply | null }> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawSmtp(socket);
    const greeting = opts.waitGreeting === false ? null : await client.read();
    return { client, greeting };
  }

  private onData(d: string): void {
    this.buf += d;
    let idx: number;
    while ((idx = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, idx).replace(/\r$/, '');
      this.buf = this.buf.slice(idx + 1);
      this.pending.push(line);
      if (/^\d{3} /.test(line) || !/^\d{3}-/.test(line)) {
        const code = Number(line.slice(0, 3));
        const r: Reply = { code, text: this.pending.map((l) => l.slice(4)).join('\n'), line };
        this.pending = [];
        const w = this.waiting.shift();
        if (w) w(r);
        else this.replies.push(r);
      }
    }
  }

  read(timeoutMs = 10_000): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const waiter = (x: Reply): void => {
        clearTimeout(timer);
        this.socket.off('close', onClose);
        resolve(x);
      };
      // a timed-out or closed read gives up its place, so the next reply goes to the next read
      const drop = (): void => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
      };
      const timer = setTimeout(() => {
        drop();
        this.socket.off('close', onClose);
        reject(new Error('no reply within timeout'));
      }, timeoutMs);
      const onClose = (): void => {
        clearTimeout(timer);
        drop();
        reject(new Error('connection closed without reply'));
      };
      this.socket.once('close', onClose);
      this.waiting.push(waiter);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** EHLO + MAIL FROM in one go, for RCPT tests. */
  async begin(from = 'sender@client.test'): Promise<void> {
    const ehlo = await this.cmd('EHLO client.test');
    if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.line}`);
    const mail = await this.cmd(`MAIL FROM:<${from}>`);
    if (mail.code !== 250) throw new Error(`MAIL: ${mail.line}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface SendResult {
  readonly ok: boolean;
  readonly code: number;
  readonly response: string;
}

/** One message over one connection with nodemailer; never throws for an SMTP answer. */
export async function sendMessage(
  port: number,
  opts: { from: string; to: string[]; raw: string | Buffer | NodeJS.ReadableStream },
): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    name: 'client.test',
    connectionTimeout: 10_000,
    socketTimeout: 60_000,
    logger: false,
  });
  try {
    const info = await transport.sendMail({ envelope: { from: opts.from, to: opts.to }, raw: opts.raw as string });
    return { ok: true, code: Number(String(info.response).slice(0, 3)), response: String(info.response) };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message?: string };
    return { ok: false, code: e.responseCode ?? 0, response: e.response ?? e.message ?? '' };
  } finally {
    transport.close();
  }
}

export function simpleMessage(
  opts: { subject?: string; messageId?: string; body?: string; headers?: Record<string, string> } = {},
): string {
  const extra = Object.entries(opts.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return (
    `From: Sender <sender@client.test>\r\nTo: someone@example.test\r\nSubject: ${opts.subject ?? 'Test'}\r\n` +
    `Message-ID: ${opts.messageId ?? `<${Math.random().toString(36).slice(2)}@client.test>`}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n${extra}\r\n` +
    `${opts.body ?? 'Hello.'}\r\n`
  );
}

/**
 * One message with the envelope written verbatim (`MAIL FROM:<…>` exactly as given): nodemailer would
 * parse `root,x@attacker.test` as an address list on the client side, hiding what the server does with it.
 */
export async function sendVerbatim(
  port: number,
  opts: { from: string; to: string[]; raw: string },
): Promise<SendResult> {
  const { client } = await RawSmtp.connect(port);
  try {
    const steps = ['EHLO client.test', `MAIL FROM:<${opts.from}>`, ...opts.to.map((r) => `RCPT TO:<${r}>`), 'DATA'];
    for (const step of steps) {
      const r = await client.cmd(step);
      if (r.code >= 400) return { ok: false, code: r.code, response: r.line };
    }
    const body = opts.raw.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    client.write(`${body.endsWith('\r\n') ? body : `${body}\r\n`}.\r\n`);
    const done = await client.read();
    return { ok: done.code === 250, code: done.code, response: done.line };
  } finally {
    client.close();
  }
}
