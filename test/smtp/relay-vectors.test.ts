// SPEC §4: the server never relays. Every address form that could name a mailbox elsewhere is sent
// over a real socket to the app delivering upstream to a real sink, so a leak would show up there.
// Expectations follow smtp-server 3.21.6's _parseAddressCommand: it strips a source route, rejects
// addresses with more than one unquoted-or-quoted "@", trailing dots and control characters itself
// (501 5.1.3, never reaching our hook), converts xn-- domains to Unicode and normalizes IPv6 literals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { LogEvent } from '../../src/observability/events.js';
import { listFilesRecursive } from '../helpers/files.js';
import { queuedId } from '../helpers/files.js';
import { connectWithSid } from '../helpers/session-sid.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';

type RcptEvent = Extract<LogEvent, { event: 'rcpt' }>;

const BAD_SYNTAX = '501 5.1.3 Error: Bad recipient address syntax';
const NEED_RCPT = '503 5.5.1 Error: need RCPT command';
const relayDenied = (addr: string): string => `554 5.7.1 <${addr}>: relay access denied`;
const routingTrick = (addr: string): string =>
  `550 5.7.1 <${addr}>: source routing and percent hacks are not supported: relay access denied`;

interface Vector {
  readonly name: string;
  /** What goes between `RCPT TO:<` and `>`. */
  readonly address: string;
  /** The exact reply line (smtp-server normalizes some addresses before our hook sees them). */
  readonly reply: string;
  /** The `rcpt` event our hook logs; null when smtp-server refuses before asking the hook. */
  readonly event: {
    readonly decision: 'relay-denied' | 'invalid';
    readonly code: number;
    readonly rcpt: string;
    readonly reason: string;
  } | null;
}

const longLabel = 'a'.repeat(63);
// 4 × 63 + 3 dots + ".test" = 260 octets of domain: over RFC 5321's 255 and smtp-server's 253 path limit
const tooLongDomain = `${longLabel}.${longLabel}.${longLabel}.${longLabel}.test`;
// one 200-octet label: under the path limit, over DNS's 63-octet label limit
const longLabelDomain = `${'b'.repeat(200)}.test`;

const VECTORS: readonly Vector[] = [
  {
    name: 'plain other domain',
    address: 'user@other.test',
    reply: relayDenied('user@other.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@other.test', reason: 'relay-denied' },
  },
  {
    name: 'other domain, upper case',
    address: 'USER@OTHER.TEST',
    reply: relayDenied('user@other.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@other.test', reason: 'relay-denied' },
  },
  {
    name: 'subdomain of the served domain',
    address: 'alice@sub.example.test',
    reply: relayDenied('alice@sub.example.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'alice@sub.example.test', reason: 'relay-denied' },
  },
  {
    name: 'served domain as a prefix of another',
    address: 'alice@example.test.other.test',
    reply: relayDenied('alice@example.test.other.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'alice@example.test.other.test', reason: 'relay-denied' },
  },
  {
    name: 'parent domain of the served domain',
    address: 'alice@test',
    reply: relayDenied('alice@test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'alice@test', reason: 'relay-denied' },
  },
  {
    name: 'percent hack',
    address: 'user%other.test@example.test',
    reply: routingTrick('user%other.test@example.test'),
    event: { decision: 'relay-denied', code: 550, rcpt: 'user%other.test@example.test', reason: 'percent-hack' },
  },
  {
    name: 'percent hack, served domain in upper case',
    address: 'user%other.test@EXAMPLE.TEST',
    reply: routingTrick('user%other.test@EXAMPLE.TEST'),
    event: { decision: 'relay-denied', code: 550, rcpt: 'user%other.test@EXAMPLE.TEST', reason: 'percent-hack' },
  },
  {
    name: 'percent hack pointing back at the served domain',
    address: 'alice%example.test@example.test',
    reply: routingTrick('alice%example.test@example.test'),
    event: { decision: 'relay-denied', code: 550, rcpt: 'alice%example.test@example.test', reason: 'percent-hack' },
  },
  {
    name: 'bang path',
    address: 'other.test!user@example.test',
    reply: routingTrick('other.test!user@example.test'),
    event: { decision: 'relay-denied', code: 550, rcpt: 'other.test!user@example.test', reason: 'bang-path' },
  },
  {
    name: 'quoted local-part with a percent hack',
    address: '"user%other.test"@example.test',
    reply: routingTrick('"user%other.test"@example.test'),
    event: { decision: 'relay-denied', code: 550, rcpt: '"user%other.test"@example.test', reason: 'percent-hack' },
  },
  {
    name: 'two @ signs (user@other.test@example.test)',
    address: 'user@other.test@example.test',
    reply: BAD_SYNTAX,
    event: null,
  },
  { name: 'quoted @ in the local-part', address: '"user@other.test"@example.test', reply: BAD_SYNTAX, event: null },
  // smtp-server strips "@example.test:" (RFC 5321 §4.1.2 / App. C): the real recipient is user@other.test
  {
    name: 'source route via the served domain',
    address: '@example.test:user@other.test',
    reply: relayDenied('user@other.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@other.test', reason: 'relay-denied' },
  },
  {
    name: 'source route via the other domain',
    address: '@other.test:user@other.test',
    reply: relayDenied('user@other.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@other.test', reason: 'relay-denied' },
  },
  {
    name: 'source route with two hops ending on the served domain',
    address: '@other.test,@relay.test:alice@example.test.other.test',
    reply: relayDenied('alice@example.test.other.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'alice@example.test.other.test', reason: 'relay-denied' },
  },
  {
    name: 'IPv4 address literal',
    address: 'user@[127.0.0.1]',
    reply: relayDenied('user@[127.0.0.1]'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@[127.0.0.1]', reason: 'address-literal' },
  },
  // smtp-server normalizes an IPv6 literal before the hook sees it; ::1 is already in its normal form
  {
    name: 'IPv6 address literal',
    address: 'user@[IPv6:::1]',
    reply: relayDenied('user@[IPv6:::1]'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@[IPv6:::1]', reason: 'address-literal' },
  },
  { name: 'trailing-dot domain', address: 'user@other.test.', reply: BAD_SYNTAX, event: null },
  { name: 'trailing dot on the served domain', address: 'alice@example.test.', reply: BAD_SYNTAX, event: null },
  {
    name: 'IDN other domain (Unicode)',
    address: 'user@bücher.test',
    reply: relayDenied('user@xn--bcher-kva.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@xn--bcher-kva.test', reason: 'relay-denied' },
  },
  {
    name: 'IDN other domain (xn-- form)',
    address: 'user@xn--bcher-kva.test',
    reply: relayDenied('user@xn--bcher-kva.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'user@xn--bcher-kva.test', reason: 'relay-denied' },
  },
  {
    name: 'postmaster of another domain',
    address: 'postmaster@other.test',
    reply: relayDenied('postmaster@other.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'postmaster@other.test', reason: 'relay-denied' },
  },
  // Cyrillic а (U+0430) in place of Latin a: a different domain in DNS
  {
    name: 'Unicode lookalike of the served domain (Cyrillic а)',
    address: 'alice@ex\u0430mple.test',
    reply: relayDenied('alice@xn--exmple-4nf.test'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'alice@xn--exmple-4nf.test', reason: 'relay-denied' },
  },
  // Cyrillic е (U+0435) in place of Latin e, in the TLD part
  {
    name: 'Unicode lookalike of the served domain (Cyrillic е in .tеst)',
    address: 'alice@example.t\u0435st',
    reply: relayDenied('alice@example.xn--tst-rdd'),
    event: { decision: 'relay-denied', code: 554, rcpt: 'alice@example.xn--tst-rdd', reason: 'relay-denied' },
  },
  { name: 'domain over 255 octets', address: `user@${tooLongDomain}`, reply: BAD_SYNTAX, event: null },
  {
    name: 'domain with a 200-octet label',
    address: `user@${longLabelDomain}`,
    reply: relayDenied(`user@${longLabelDomain}`),
    event: { decision: 'relay-denied', code: 554, rcpt: `user@${longLabelDomain}`, reason: 'relay-denied' },
  },
];

describe('relay vectors, delivery upstream (SPEC §4: never relays)', () => {
  let t: TestApp;
  let sink: UpstreamSink;

  beforeAll(async () => {
    sink = await startSink('accept');
    t = await startApp({
      domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'bob'] }],
      delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: sink.port, timeout: '5s' } },
      server: { maxUnknownRecipients: 1000, maxUnknownRecipientsPerIp: 1000 },
    });
  });
  afterAll(async () => {
    await t.stop();
    await sink.close();
  });

  it('the forms are distinct and reach every refusal: relay-denied, address literal, percent hack, bang path, smtp-server 501', () => {
    expect(new Set(VECTORS.map((v) => v.address)).size).toBe(VECTORS.length);
    expect([...new Set(VECTORS.map((v) => (v.event ? `${v.event.code} ${v.event.reason}` : v.reply)))].sort()).toEqual([
      BAD_SYNTAX,
      '550 bang-path',
      '550 percent-hack',
      '554 address-literal',
      '554 relay-denied',
    ]);
  });

  it.each(VECTORS.map((v) => [v.name, v] as const))(
    '%s → refused, DATA impossible, nothing relayed',
    async (_name, v) => {
      const before = t.events.all.length;
      const { client, sid } = await connectWithSid(t.port, t.events);
      try {
        await client.begin();
        expect((await client.cmd(`RCPT TO:<${v.address}>`)).line).toBe(v.reply);
        expect((await client.cmd('DATA')).line).toBe(NEED_RCPT);
        expect((await client.cmd('QUIT')).line).toBe('221 2.0.0 Bye');
      } finally {
        client.close();
      }
      const rcpts = t.events.all.slice(before).filter((e): e is RcptEvent => e.event === 'rcpt');
      expect(rcpts).toEqual(v.event === null ? [] : [{ event: 'rcpt', sid, from: 'sender@client.test', ...v.event }]);
      expect(t.events.all.slice(before).filter((e) => e.event === 'message')).toEqual([]);
      expect(sink.messages).toHaveLength(0);
    },
  );

  it('CRLF injection inside the address: both halves refused, no second RCPT accepted', async () => {
    const before = t.events.all.length;
    const { client } = await RawSmtp.connect(t.port);
    try {
      await client.begin();
      client.write('RCPT TO:<user\r\nRCPT TO:<x@other.test>@example.test>\r\n');
      // line 1 `RCPT TO:<user` has no closing bracket; line 2's address `<x@other.test>@example.test>` is not one path
      expect((await client.read()).line).toBe(BAD_SYNTAX);
      expect((await client.read()).line).toBe(BAD_SYNTAX);
      expect((await client.cmd('DATA')).line).toBe(NEED_RCPT);
    } finally {
      client.close();
    }
    expect(t.events.all.slice(before).filter((e) => e.event === 'rcpt')).toEqual([]);
    expect(sink.messages).toHaveLength(0);
  });

  it('a NUL and a bare-LF line split inside the address: every piece refused, nothing accepted', async () => {
    const before = t.events.all.length;
    const { client } = await RawSmtp.connect(t.port);
    try {
      await client.begin();
      expect((await client.cmd('RCPT TO:<user\x00x@other.test>')).line).toBe(BAD_SYNTAX);
      // smtp-server ends a command line at a bare LF too: two commands, two refusals
      client.write('RCPT TO:<user\nRCPT TO:<x@other.test>@example.test>\r\n');
      expect((await client.read()).line).toBe(BAD_SYNTAX);
      expect((await client.read()).line).toBe(BAD_SYNTAX);
      expect((await client.cmd('NOOP')).line).toBe('250 2.0.0 OK');
      expect((await client.cmd('DATA')).line).toBe(NEED_RCPT);
    } finally {
      client.close();
    }
    expect(t.events.all.slice(before).filter((e) => e.event === 'rcpt')).toEqual([]);
    expect(sink.messages).toHaveLength(0);
  });

  it('every form in one transaction: all refused, DATA impossible, nothing relayed', async () => {
    const { client } = await RawSmtp.connect(t.port);
    try {
      await client.begin();
      for (const v of VECTORS) expect((await client.cmd(`RCPT TO:<${v.address}>`)).line, v.name).toBe(v.reply);
      expect((await client.cmd('DATA')).line).toBe(NEED_RCPT);
    } finally {
      client.close();
    }
    expect(sink.messages).toHaveLength(0);
  });

  it('a relay form next to a known recipient: the message reaches the sink for alice only', async () => {
    // the sink must stay empty for the other tests, so this runs against its own app and sink
    const ownSink = await startSink('accept');
    const own = await startApp({
      domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }],
      delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: ownSink.port, timeout: '5s' } },
    });
    try {
      const { client } = await RawSmtp.connect(own.port);
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<user%other.test@example.test>')).line).toBe(
          routingTrick('user%other.test@example.test'),
        );
        expect((await client.cmd('RCPT TO:<@example.test:user@other.test>')).line).toBe(relayDenied('user@other.test'));
        expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('250 2.1.5 Accepted');
        expect((await client.cmd('DATA')).code).toBe(354);
        client.write(simpleMessage({ subject: 'control' }) + '.\r\n');
        expect((await client.read()).line).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
      } finally {
        client.close();
      }
      const got = await ownSink.waitForMessages(1);
      expect(got).toHaveLength(1);
      expect(got[0]?.to).toEqual(['alice@example.test']);
    } finally {
      await own.stop();
      await ownSink.close();
    }
  });

  it('fullwidth ｅ (U+FF45) in the served domain: IDNA (UTS #46) maps it to example.test, so it is the served domain, handed on as ASCII', async () => {
    // not a lookalike but a compatibility spelling: WHATWG/UTS #46 ToASCII maps it to `example.test`.
    // The point checked: whatever is accepted is handed upstream for the served domain's own mailbox,
    // never for a domain spelled by the client.
    const ownSink = await startSink('accept');
    const own = await startApp({
      domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }],
      delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: ownSink.port, timeout: '5s' } },
    });
    try {
      const { client } = await RawSmtp.connect(own.port);
      let line = '';
      try {
        await client.begin();
        expect((await client.cmd('RCPT TO:<stranger@\uff45xample.test>')).line).toBe(
          '550 5.1.1 <stranger@example.test>: recipient address rejected: user unknown',
        );
        expect((await client.cmd('RCPT TO:<alice@\uff45xample.test>')).line).toBe('250 2.1.5 Accepted');
        expect((await client.cmd('DATA')).code).toBe(354);
        client.write(simpleMessage({ subject: 'fullwidth' }) + '.\r\n');
        line = (await client.read()).line;
      } finally {
        client.close();
      }
      const qid = queuedId(line);
      const got = await ownSink.waitForMessages(1);
      expect(got.map((m) => m.to)).toEqual([['alice@example.test']]);
      const e = await own.events.waitFor('message', (m) => m.qid === qid);
      expect(e).toMatchObject({ delivered: ['alice@example.test'], quarantined: [], code: 250, outcome: 'stored' });
    } finally {
      await own.stop();
      await ownSink.close();
    }
  });

  it('the sink received nothing from any relay attempt', () => {
    expect(sink.messages).toHaveLength(0);
  });
});

describe.each(['quarantine', 'observe'] as const)(
  'routing tricks in %s mode are refused, never quarantined or delivered',
  (mode) => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startApp({
        domains: [
          {
            name: 'example.test',
            unknownRecipients: mode,
            recipients: ['alice'],
            ...(mode === 'observe' ? { observeMailbox: 'alice' } : {}),
          },
        ],
        notices: { enabled: false },
      });
    });
    afterAll(() => t.stop());

    it.each([
      ['user%other.test@example.test', 'percent-hack', routingTrick('user%other.test@example.test'), 550],
      ['other.test!user@example.test', 'bang-path', routingTrick('other.test!user@example.test'), 550],
      ['user@[127.0.0.1]', 'address-literal', relayDenied('user@[127.0.0.1]'), 554],
    ] as const)('%s → 5xx 5.7.1, no quarantine entry, no mail', async (address, via, reply, code) => {
      const before = t.events.all.length;
      const { client, sid } = await connectWithSid(t.port, t.events);
      try {
        await client.begin();
        expect((await client.cmd(`RCPT TO:<${address}>`)).line).toBe(reply);
        expect((await client.cmd('DATA')).line).toBe(NEED_RCPT);
      } finally {
        client.close();
      }
      const rcpts = t.events.all.slice(before).filter((e): e is RcptEvent => e.event === 'rcpt');
      expect(rcpts).toEqual([
        { event: 'rcpt', sid, from: 'sender@client.test', rcpt: address, decision: 'relay-denied', code, reason: via },
      ]);
      expect(listFilesRecursive(path.join(t.dataDir, 'quarantine'))).toEqual([]);
      expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
    });

    it('a routing trick next to an unknown recipient: only the unknown one is quarantined/observed', async () => {
      const r = await sendMessage(t.port, {
        from: 'sender@client.test',
        to: ['user%other.test@example.test', 'stranger@example.test'],
        raw: simpleMessage({ subject: 'mixed trick' }),
      });
      // nodemailer goes on with the accepted recipient
      expect(r.ok).toBe(true);
      const qid = queuedId(r.response);
      const msg = await t.events.waitFor('message', (e) => e.qid === qid);
      if (mode === 'quarantine') {
        expect(msg).toMatchObject({ delivered: [], quarantined: ['stranger@example.test'], code: 250 });
        expect(msg.observed).toBeUndefined();
        const json = listFilesRecursive(path.join(t.dataDir, 'quarantine')).filter((f) => f.endsWith('.json'));
        expect(json).toEqual([`${qid}.json`]);
        expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
      } else {
        expect(msg).toMatchObject({
          delivered: [],
          quarantined: [],
          observed: ['stranger@example.test'],
          code: 250,
        });
        expect(listFilesRecursive(path.join(t.dataDir, 'quarantine'))).toEqual([]);
        const copies = listFilesRecursive(path.join(t.dataDir, 'mail'));
        expect(copies).toHaveLength(1);
        expect(path.dirname(copies[0] ?? '')).toBe(path.join('example.test', 'alice', 'new'));
      }
    });
  },
);
