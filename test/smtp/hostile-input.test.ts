// Hostile and malformed input over a raw socket: every case gets the reply smtp-server (3.21.6) plus
// wire-compat.ts really give, pinned here, and afterwards the server still serves a fresh client.
// Replies are read as latin1 (RawSmtp), so UTF-8 in a reply shows up as its bytes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listFilesRecursive, pollUntil, queuedId } from '../helpers/files.js';
import { connectWithSid } from '../helpers/session-sid.js';
import { RawSmtp, type Reply } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

/** A unique string put into every message body of this file; it must never reach a log line. */
const MARK = `BODYMARK${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

const BANNER = '220 mx.test.invalid ESMTP catchall-guard';

/** Our trace header opening a stored message of this file's raw clients (EHLO client.test), one recipient. */
function receivedPattern(qid: string, rcpt: string): RegExp {
  const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^Received: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\r\n\tby mx\\.test\\.invalid \\(catchall-guard\\) with ESMTP id ${esc(qid)}\r\n\tfor <${esc(rcpt)}>;\r\n\t(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{1,2} [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000\r\n`,
  );
}

const DOMAINS = [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'bob', 'shop-*', 'jörg'] }];

async function assertServes(port: number): Promise<void> {
  const { client, greeting } = await RawSmtp.connect(port);
  try {
    expect(greeting?.line).toBe(BANNER);
    expect((await client.cmd('EHLO probe.client.test')).code).toBe(250);
    expect((await client.cmd('MAIL FROM:<probe@client.test>')).line).toBe('250 2.1.0 Accepted');
    expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('250 2.1.5 Accepted');
    expect((await client.cmd('QUIT')).line).toBe('221 2.0.0 Bye');
  } finally {
    client.close();
  }
}

/** Resolves true when the socket closed within `ms`. */
async function closedWithin(client: RawSmtp, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    client.closed.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return r;
}

/**
 * True when the server sends nothing for `ms`. Watches the socket instead of calling read() with a
 * timeout: watching the socket says "nothing arrived" without consuming a reply.
 */
async function silentFor(client: RawSmtp, ms: number): Promise<boolean> {
  let got = false;
  const onData = (): void => void (got = true);
  client.socket.on('data', onData);
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
  client.socket.off('data', onData);
  return !got;
}

function mailFiles(t: TestApp): string[] {
  return listFilesRecursive(path.join(t.dataDir, 'mail'));
}

/** Files under <data>/mail that appeared since `before`, as absolute paths. */
function newFiles(t: TestApp, before: readonly string[]): string[] {
  const seen = new Set(before);
  return mailFiles(t)
    .filter((f) => !seen.has(f))
    .map((f) => path.join(t.dataDir, 'mail', f));
}

function assertNoBodyInLogs(t: TestApp): void {
  expect(t.events.lines.length).toBeGreaterThan(0);
  const leaking = t.events.lines.filter((l) => l.includes(MARK));
  expect(leaking).toEqual([]);
}

const OK_QUEUED = /^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/;

describe('hostile input (default timing)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // harvest limits off so that the reply of every case is the reply for the input, not for a limit
    t = await startApp({ domains: DOMAINS, server: { maxUnknownRecipients: 0, maxUnknownRecipientsPerIp: 0 } });
  });
  afterEach(async () => {
    await assertServes(t.port);
  });
  afterAll(async () => {
    await t.stop();
  });

  describe('command line length', () => {
    it('a command line over 512 octets (600) is processed normally: smtp-server allows 16 KiB', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        const noop = await client.cmd(`NOOP ${'x'.repeat(600)}`);
        expect(noop.line).toBe('250 2.0.0 OK');
        // an over-long EHLO argument (> 300 octets) is refused, with an enhanced code like every error reply
        const ehlo = await client.cmd(`EHLO ${'h'.repeat(600)}.client.test`);
        expect(ehlo.line).toBe('501 5.5.4 Error: Bad hostname syntax');
        // an over-long RCPT line with an over-long local-part goes through to our own address check
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        expect((await client.cmd('MAIL FROM:<s@client.test>')).code).toBe(250);
        const rcpt = await client.cmd(`RCPT TO:<${'l'.repeat(600)}@example.test>`);
        expect(rcpt.line).toBe('501 5.1.3 Error: Bad recipient address syntax');
        expect(await closedWithin(client, 200)).toBe(false);
      } finally {
        client.close();
      }
    });

    it('a command line over 16 KiB (with newline) → 421 4.4.2 "Command line too long", connection closed', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        client.write(`NOOP ${'A'.repeat(16 * 1024)}\r\n`);
        const r = await client.read();
        expect(r.line).toBe('421 4.4.2 Error: Command line too long');
        expect(await closedWithin(client, 8000)).toBe(true);
      } finally {
        client.close();
      }
    });

    it('100 KB without any newline → 421 4.4.2 "Command line too long", connection closed', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        client.write(Buffer.alloc(100 * 1024, 0x41));
        const r = await client.read();
        expect(r.line).toBe('421 4.4.2 Error: Command line too long');
        expect(await closedWithin(client, 8000)).toBe(true);
      } finally {
        client.close();
      }
    });
  });

  describe('NUL bytes', () => {
    it('NUL in EHLO, in a command verb, in MAIL FROM and in RCPT TO: each refused, session continues', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        expect((await client.cmd('EHLO cli\0ent.test')).line).toBe('501 5.5.4 Error: Bad hostname syntax');
        expect((await client.cmd('NO\0OP')).line).toBe('500 5.5.2 Error: command not recognized');
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        expect((await client.cmd('MAIL FROM:<a\0b@client.test>')).line).toBe(
          '501 5.1.7 Error: Bad sender address syntax',
        );
        expect((await client.cmd('MAIL FROM:<s@client.test>')).line).toBe('250 2.1.0 Accepted');
        expect((await client.cmd('RCPT TO:<ali\0ce@example.test>')).line).toBe(
          '501 5.1.3 Error: Bad recipient address syntax',
        );
        expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('250 2.1.5 Accepted');
        expect(await closedWithin(client, 100)).toBe(false);
      } finally {
        client.close();
      }
    });

    it('NUL bytes inside DATA are stored as they came', async () => {
      const before = mailFiles(t);
      const { client } = await RawSmtp.connect(t.port);
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
        expect((await client.cmd('DATA')).code).toBe(354);
        client.write(Buffer.from(`Subject: nul\r\n\r\n${MARK}-nul a\0b\r\n.\r\n`, 'latin1'));
        expect((await client.read()).line).toMatch(OK_QUEUED);
      } finally {
        client.close();
      }
      const files = newFiles(t, before);
      expect(files).toHaveLength(1);
      expect(readFileSync(files[0]!).includes(Buffer.from(`${MARK}-nul a\0b\r\n`, 'latin1'))).toBe(true);
    });
  });

  describe('bare LF line endings', () => {
    it('commands ending in bare LF are accepted; "\\n.\\n" does not end DATA (no smuggling); CRLF.CRLF does', async () => {
      const before = mailFiles(t);
      const { client } = await RawSmtp.connect(t.port);
      try {
        client.write('EHLO client.test\nMAIL FROM:<lf@client.test>\nRCPT TO:<alice@example.test>\nDATA\n');
        expect((await client.read()).code).toBe(250); // EHLO
        expect((await client.read()).line).toBe('250 2.1.0 Accepted');
        expect((await client.read()).line).toBe('250 2.1.5 Accepted');
        expect((await client.read()).code).toBe(354);
        // a bare-LF "end of data" followed by a smuggled command: both are message content
        client.write(
          `Subject: bare lf\n\n${MARK}-lf line one\n.\nMAIL FROM:<smuggled@evil.test>\nRCPT TO:<bob@example.test>\n`,
        );
        expect(await silentFor(client, 600)).toBe(true);
        client.write('last line\r\n.\r\n');
        expect((await client.read()).line).toMatch(OK_QUEUED);
        // the session is back in command mode, with no smuggled transaction open
        expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('503 5.5.1 Error: need MAIL command');
      } finally {
        client.close();
      }
      const files = newFiles(t, before);
      expect(files).toHaveLength(1);
      const stored = readFileSync(files[0]!, 'latin1');
      // stored byte for byte: bare LFs are not rewritten to CRLF, the lone dot is not unstuffed
      expect(stored).toContain(
        `Subject: bare lf\n\n${MARK}-lf line one\n.\nMAIL FROM:<smuggled@evil.test>\nRCPT TO:<bob@example.test>\nlast line\r\n`,
      );
      expect(t.events.of('rcpt').some((e) => e.from === 'smuggled@evil.test')).toBe(false);
    });
  });

  describe('pipelining', () => {
    it('500 RCPTs in one write are all answered in order; 452 4.5.3 past maxRecipients (100)', async () => {
      const before = mailFiles(t);
      const { client } = await RawSmtp.connect(t.port);
      const rcpts: string[] = [];
      for (let i = 1; i <= 500; i++) rcpts.push(i % 5 === 0 ? `nobody-${i}@example.test` : `shop-${i}@example.test`);
      try {
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        client.write(`MAIL FROM:<flood@client.test>\r\n${rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
        const replies: Reply[] = [];
        for (let i = 0; i < 502; i++) replies.push(await client.read(15_000));
        expect(replies[0]!.line).toBe('250 2.1.0 Accepted');
        let accepted = 0;
        const expected = rcpts.map((r) => {
          if (accepted >= 100) return '452 4.5.3 too many recipients in this transaction';
          if (r.startsWith('nobody-')) return `550 5.1.1 <${r}>: recipient address rejected: user unknown`;
          accepted++;
          return '250 2.1.5 Accepted';
        });
        expect(replies.slice(1, 501).map((r) => r.line)).toEqual(expected);
        // accepted reaches 100 at RCPT #124 (124 minus 24 unknowns): #125…#500 get 452
        expect(replies.slice(1, 501).filter((r) => r.code === 452)).toHaveLength(376);
        expect(replies[501]!.code).toBe(354);
        client.write(`Subject: flood\r\n\r\n${MARK}-flood\r\n.\r\n`);
        expect((await client.read()).line).toMatch(OK_QUEUED);
        expect(await silentFor(client, 200)).toBe(true);
      } finally {
        client.close();
      }
      // one copy for each of the 100 accepted mailboxes (shop-1 … shop-124 but for every fifth), none for the 452'd ones
      const accepted = rcpts
        .slice(0, 124)
        .filter((r) => r.startsWith('shop-'))
        .map((r) => r.slice(0, r.indexOf('@')));
      expect(accepted).toHaveLength(100);
      const files = newFiles(t, before).map((f) => path.relative(path.join(t.dataDir, 'mail', 'example.test'), f));
      expect(files.map((f) => path.dirname(f)).sort()).toEqual(accepted.map((m) => path.join(m, 'new')).sort());
    });
  });

  describe('commands out of order', () => {
    it('MAIL before EHLO, RCPT before MAIL, DATA before RCPT, nested MAIL → 503 5.5.1', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        expect((await client.cmd('MAIL FROM:<s@client.test>')).line).toBe('503 5.5.1 Error: send HELO/EHLO first');
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('503 5.5.1 Error: need MAIL command');
        expect((await client.cmd('DATA')).line).toBe('503 5.5.1 Error: need RCPT command');
        expect((await client.cmd('MAIL FROM:<s@client.test>')).line).toBe('250 2.1.0 Accepted');
        expect((await client.cmd('DATA')).line).toBe('503 5.5.1 Error: need RCPT command');
        expect((await client.cmd('MAIL FROM:<other@client.test>')).line).toBe('503 5.5.1 Error: nested MAIL command');
        expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('250 2.1.5 Accepted');
        expect((await client.cmd('RSET')).line).toBe('250 2.0.0 Flushed');
        expect((await client.cmd('DATA')).line).toBe('503 5.5.1 Error: need RCPT command');
      } finally {
        client.close();
      }
    });

    it('DATA when every RCPT was refused → 503 5.5.1, nothing stored', async () => {
      const before = mailFiles(t);
      const { client } = await RawSmtp.connect(t.port);
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<nobody@example.test>')).code).toBe(550);
        expect((await client.cmd('RCPT TO:<someone@elsewhere.test>')).line).toBe(
          '554 5.7.1 <someone@elsewhere.test>: relay access denied',
        );
        expect((await client.cmd('DATA')).line).toBe('503 5.5.1 Error: need RCPT command');
        // what a client that ignores the 503 sends next is treated as commands, not as a message
        expect((await client.cmd(`${MARK}-meant-as-body`)).line).toBe('500 5.5.2 Error: command not recognized');
      } finally {
        client.close();
      }
      expect(newFiles(t, before)).toEqual([]);
    });
  });

  describe('invalid UTF-8', () => {
    it('MAIL FROM with invalid UTF-8 is accepted (decoded to U+FFFD by smtp-server)', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        client.write(Buffer.from('MAIL FROM:<\xff\xfe@client.test>\r\n', 'latin1'));
        // SPEC is silent; Postfix would say 500 5.5.2 bad UTF-8 syntax (see report)
        expect((await client.read()).line).toBe('250 2.1.0 Accepted');
        expect((await client.cmd('RSET')).line).toBe('250 2.0.0 Flushed');
        client.write(Buffer.from('MAIL FROM:<sender@cl\xffient.test>\r\n', 'latin1'));
        expect((await client.read()).line).toBe('250 2.1.0 Accepted');
      } finally {
        client.close();
      }
    });

    it('RCPT with an invalid UTF-8 local-part → 550 5.1.1 (unknown); in the domain → 501 5.1.3', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        await client.begin();
        client.write(Buffer.from('RCPT TO:<\xff\xfe@example.test>\r\n', 'latin1'));
        const r = await client.read();
        // the reply echoes the address, with U+FFFD as UTF-8 bytes (EF BF BD) – non-ASCII in a reply
        expect(r.line).toBe(
          '550 5.1.1 <\xef\xbf\xbd\xef\xbf\xbd@example.test>: recipient address rejected: user unknown',
        );
        client.write(Buffer.from('RCPT TO:<alice@ex\xffample.test>\r\n', 'latin1'));
        expect((await client.read()).line).toBe('501 5.1.3 bad recipient address syntax: invalid domain');
        client.write(Buffer.from('RCPT TO:<al\xc3ice@example.test>\r\n', 'latin1'));
        expect((await client.read()).line).toBe(
          '550 5.1.1 <al\xef\xbf\xbdice@example.test>: recipient address rejected: user unknown',
        );
      } finally {
        client.close();
      }
    });

    it('invalid UTF-8 in headers and body: 250 and stored byte for byte', async () => {
      const before = mailFiles(t);
      const raw = Buffer.from(
        `From: "J\xf6rg \xff" <sender@client.test>\r\nSubject: caf\xe9 \xc3\x28 \xed\xa0\x80\r\nMessage-ID: <utf8-broken@client.test>\r\n\r\n${MARK}-bad-utf8 \xfe\xff\xc0\xaf\r\n.\r\n`,
        'latin1',
      );
      const { client } = await RawSmtp.connect(t.port);
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
        expect((await client.cmd('DATA')).code).toBe(354);
        client.write(raw);
        expect((await client.read()).line).toMatch(OK_QUEUED);
      } finally {
        client.close();
      }
      const files = newFiles(t, before);
      expect(files).toHaveLength(1);
      expect(readFileSync(files[0]!).includes(raw.subarray(0, raw.length - 3))).toBe(true);
      const msg = await t.events.waitFor('message', (e) => e.messageId === '<utf8-broken@client.test>');
      expect(msg).toMatchObject({
        from: 'sender@client.test',
        delivered: ['alice@example.test'],
        quarantined: [],
        code: 250,
        outcome: 'stored',
      });
    });
  });

  describe('SMTPUTF8', () => {
    it('MAIL FROM:<jörg@client.test> SMTPUTF8 and RCPT to the Unicode local-part jörg (any case) → 250, stored', async () => {
      const before = mailFiles(t);
      const { client } = await RawSmtp.connect(t.port);
      const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
      try {
        expect((await client.cmd('EHLO client.test')).text).toContain('SMTPUTF8');
        client.write(utf8('MAIL FROM:<jörg@client.test> SMTPUTF8\r\n'));
        expect((await client.read()).line).toBe('250 2.1.0 Accepted');
        client.write(utf8('RCPT TO:<jörg@example.test>\r\n'));
        expect((await client.read()).line).toBe('250 2.1.5 Accepted');
        client.write(utf8('RCPT TO:<JÖRG@example.test>\r\n'));
        expect((await client.read()).line).toBe('250 2.1.5 Accepted');
        client.write(utf8('RCPT TO:<jürgen@example.test>\r\n'));
        expect((await client.read()).line).toBe(
          utf8('550 5.1.1 <jürgen@example.test>: recipient address rejected: user unknown').toString('latin1'),
        );
        expect((await client.cmd('DATA')).code).toBe(354);
        client.write(
          utf8(
            `From: Jörg <jörg@client.test>\r\nSubject: Grüße\r\nMessage-ID: <smtputf8@client.test>\r\n\r\n${MARK}-utf8 Grüße\r\n.\r\n`,
          ),
        );
        expect((await client.read()).line).toMatch(OK_QUEUED);
      } finally {
        client.close();
      }
      const files = newFiles(t, before);
      // JÖRG and jörg are one recipient: one copy
      expect(files).toHaveLength(1);
      // the mailbox directory of jörg: the non-ASCII character as %xx of its code point
      expect(path.dirname(path.relative(path.join(t.dataDir, 'mail'), files[0] ?? ''))).toBe(
        path.join('example.test', 'j%f6rg', 'new'),
      );
      expect(readFileSync(files[0]!, 'utf8')).toContain(`${MARK}-utf8 Grüße\r\n`);
      const rcpts = t.events.of('rcpt').filter((e) => e.from === 'jörg@client.test');
      expect(rcpts.map((e) => [e.rcpt, e.decision])).toEqual([
        ['jörg@example.test', 'accept'],
        ['jörg@example.test', 'accept'],
        ['jürgen@example.test', 'reject'],
      ]);
    });

    it('a UTF-8 address without the SMTPUTF8 parameter is accepted too (RFC 6531 would allow 553 5.6.7)', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        await client.begin();
        client.write(Buffer.from('RCPT TO:<jörg@example.test>\r\n', 'utf8'));
        expect((await client.read()).line).toBe('250 2.1.5 Accepted');
      } finally {
        client.close();
      }
    });
  });

  describe('address length limits', () => {
    it('local-part of 65 octets → 501 5.1.3 (our check); 64 octets passes to the directory', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        await client.begin();
        expect((await client.cmd(`RCPT TO:<${'a'.repeat(65)}@example.test>`)).line).toBe(
          '501 5.1.3 bad recipient address syntax: local-part over 64 octets',
        );
        // 33 two-octet characters = 66 octets but 33 UTF-16 units: the limit is counted in octets
        client.write(Buffer.from(`RCPT TO:<${'ö'.repeat(33)}@example.test>\r\n`, 'utf8'));
        expect((await client.read()).line).toBe('501 5.1.3 bad recipient address syntax: local-part over 64 octets');
        expect((await client.cmd(`RCPT TO:<${'a'.repeat(64)}@example.test>`)).line).toBe(
          `550 5.1.1 <${'a'.repeat(64)}@example.test>: recipient address rejected: user unknown`,
        );
      } finally {
        client.close();
      }
    });

    it('domain over 255 octets → 501 (smtp-server path limit of 253 octets answers before our check)', async () => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        expect((await client.cmd('EHLO client.test')).code).toBe(250);
        const longDomain = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.example.test`;
        expect(Buffer.byteLength(longDomain)).toBe(268);
        expect((await client.cmd(`MAIL FROM:<s@${longDomain}>`)).line).toBe(
          '501 5.1.7 Error: Bad sender address syntax',
        );
        expect((await client.cmd('MAIL FROM:<s@client.test>')).code).toBe(250);
        expect((await client.cmd(`RCPT TO:<alice@${longDomain}>`)).line).toBe(
          '501 5.1.3 Error: Bad recipient address syntax',
        );
      } finally {
        client.close();
      }
    });
  });

  describe('odd message shapes', () => {
    it('header-only message (no blank line, no body) → 250 and stored', async () => {
      const before = mailFiles(t);
      const { client } = await RawSmtp.connect(t.port);
      let line = '';
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
        expect((await client.cmd('DATA')).code).toBe(354);
        client.write(
          'From: <sender@client.test>\r\nSubject: headers only\r\nMessage-ID: <headers-only@client.test>\r\n.\r\n',
        );
        line = (await client.read()).line;
      } finally {
        client.close();
      }
      const files = newFiles(t, before);
      expect(files).toHaveLength(1);
      const stored = readFileSync(files[0]!, 'utf8');
      const trace = receivedPattern(queuedId(line), 'alice@example.test').exec(stored);
      expect(trace, stored).not.toBeNull();
      // the trace header, then the header-only message byte for byte
      expect(stored.slice(trace?.[0].length)).toBe(
        'From: <sender@client.test>\r\nSubject: headers only\r\nMessage-ID: <headers-only@client.test>\r\n',
      );
    });

    it('empty message (just ".") → 250 and stored: the file holds only our trace header', async () => {
      const before = mailFiles(t);
      const { client } = await RawSmtp.connect(t.port);
      let line = '';
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
        expect((await client.cmd('DATA')).code).toBe(354);
        line = (await client.cmd('.')).line;
      } finally {
        client.close();
      }
      const files = newFiles(t, before);
      expect(files).toHaveLength(1);
      const stored = readFileSync(files[0]!, 'utf8');
      // our trace header and nothing after it
      const trace = receivedPattern(queuedId(line), 'alice@example.test').exec(stored);
      expect(trace, stored).not.toBeNull();
      expect(trace?.[0]).toBe(stored);
    });

    it('a body line of 5000 octets (> 998) is accepted and stored intact', async () => {
      const before = mailFiles(t);
      const line = `${MARK}-long ${'x'.repeat(5000)}`;
      const { client } = await RawSmtp.connect(t.port);
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
        expect((await client.cmd('DATA')).code).toBe(354);
        client.write(`Subject: long line\r\n\r\nbefore\r\n${line}\r\nafter\r\n.\r\n`);
        expect((await client.read()).line).toMatch(OK_QUEUED);
      } finally {
        client.close();
      }
      const files = newFiles(t, before);
      expect(files).toHaveLength(1);
      expect(readFileSync(files[0]!, 'utf8')).toContain(`\r\nbefore\r\n${line}\r\nafter\r\n`);
    });
  });

  describe('HTTP request guard', () => {
    it.each(['GET / HTTP/1.1', 'POST /submit HTTP/1.0'])('%s → 421 4.4.2, connection closed', async (request) => {
      const { client } = await RawSmtp.connect(t.port);
      try {
        client.write(`${request}\r\nHost: mx.test.invalid\r\nContent-Length: 0\r\n\r\n`);
        expect((await client.read()).line).toBe('421 4.4.2 HTTP requests not allowed');
        expect(await closedWithin(client, 8000)).toBe(true);
      } finally {
        client.close();
      }
    });
  });

  it('no log line contains a message body marker', () => {
    assertNoBodyInLogs(t);
  });
});

describe('a message that never ends (socketTimeout 2s)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ domains: DOMAINS, server: { socketTimeout: '2s' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('the server answers 421 4.4.2 timeout and closes; nothing remains in spool or maildir', async () => {
    const { client, sid } = await connectWithSid(t.port, t.events);
    try {
      await client.begin();
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write(
        `Subject: never ends\r\nMessage-ID: <never@client.test>\r\n\r\n${MARK}-never ${'y'.repeat(64 * 1024)}\r\nand then silence`,
      );
      const started = Date.now();
      const r = await client.read(8000);
      expect(r.line).toBe('421 4.4.2 Timeout - closing connection');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(await closedWithin(client, 8000)).toBe(true);
    } finally {
      client.close();
    }
    // the abandoned transaction is logged as aborted (no reply was given) and its spool file is removed
    const msg = await t.events.waitFor('message', (e) => e.sid === sid, 8000);
    expect(msg).toMatchObject({
      sid,
      from: 'sender@client.test',
      delivered: [],
      quarantined: [],
      code: 0,
      outcome: 'aborted',
      size: 0,
    });
    const spool = path.join(t.dataDir, 'spool');
    await pollUntil(() => (listFilesRecursive(spool).length === 0 ? true : undefined), 'empty spool', 5000);
    expect(listFilesRecursive(spool)).toEqual([]);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
    await assertServes(t.port);
    assertNoBodyInLogs(t);
  });
});

describe('an early talker (greetDelay 300ms)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ domains: DOMAINS, server: { greetDelay: '300ms' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('EHLO before the banner → 554 5.5.1 and the connection closes; no banner is ever sent', async () => {
    const { client } = await RawSmtp.connect(t.port, { waitGreeting: false });
    try {
      client.write('EHLO early.client.test\r\n');
      const r = await client.read(5000);
      expect(r.line).toBe('554 5.5.1 protocol error: you talked before the greeting');
      expect(await closedWithin(client, 8000)).toBe(true);
    } finally {
      client.close();
    }
    // a patient client gets the banner after the delay and is served
    const started = Date.now();
    const { client: patient, greeting } = await RawSmtp.connect(t.port);
    patient.close();
    expect(greeting?.line).toBe(BANNER);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await assertServes(t.port);
  });

  it('a whole pipelined transaction sent before the banner stores nothing', async () => {
    const { client } = await RawSmtp.connect(t.port, { waitGreeting: false });
    try {
      client.write(
        `EHLO early.client.test\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: x\r\n\r\n${MARK}-early\r\n.\r\nQUIT\r\n`,
      );
      expect((await client.read(5000)).line).toBe('554 5.5.1 protocol error: you talked before the greeting');
      expect(await silentFor(client, 300)).toBe(true);
      expect(await closedWithin(client, 8000)).toBe(true);
    } finally {
      client.close();
    }
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
    expect(t.events.of('rcpt').filter((e) => e.from !== 'probe@client.test')).toEqual([]);
    await assertServes(t.port);
    assertNoBodyInLogs(t);
  });
});

describe('every error reply carries an enhanced status code (ENHANCEDSTATUSCODES is advertised)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.stop());

  it.each([
    ['EHLO', '501 5.5.4 Error: syntax: EHLO hostname'],
    ['HELO', '501 5.5.4 Error: Syntax: HELO hostname'],
    ['EHLO bad host name!', '501 5.5.4 Error: syntax: EHLO hostname'],
    ['WIZ', '500 5.5.2 Error: command not recognized'],
    ['SHELL', '500 5.5.2 Error: command not recognized'],
    ['KILL', '500 5.5.2 Error: command not recognized'],
    ['BOGUS', '500 5.5.2 Error: command not recognized'],
  ])('%s → %s', async (line, expected) => {
    const { client } = await RawSmtp.connect(app.port);
    expect((await client.cmd(line)).line).toBe(expected);
    client.close();
  });
});
