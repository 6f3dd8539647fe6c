// A real sending MTA (issue #11, "Real parts, not mocks"): a private Postfix instance plays the CRM's
// MTA. The CRM submits a CRM-shaped message (VERP bounce sender, List-Unsubscribe, Precedence: bulk,
// Auto-Submitted: auto-generated) with Postfix's sendmail, asking for failure DSNs with envelope id
// crm-4711; Postfix relays mail for example.test to catchall-guard and mail for crm.test (the bounce
// address) to a bounce sink. What the CRM's bounce handler receives is checked as it arrives there:
// - quarantine: our dsn notice, relayed back through the same Postfix (SPEC §6);
// - reject-after-data: Postfix's own bounce of our 550 after DATA (SPEC §4), and our headers-only record.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatRfc5322Date } from '../../src/message/date.js';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import type { DnsResolver } from '../../src/sender-auth/dns.js';
import { freeLoopbackPort, startPostfix, type Postfix } from '../helpers/postfix.js';
import { startApp, type RawConfig, type TestApp } from '../helpers/start-app.js';
import { startSink, type SinkMessage, type UpstreamSink } from '../helpers/upstream-sink.js';

const BOUNCES = 'bounces+4711@crm.test';
const RCPT = 'jane.doe@example.test';
const ENVID = 'crm-4711';
/** Bounded: delivery takes well under a second; this is the most one test waits for the bounce sink. */
const DELIVERY_WAIT_MS = 25_000;

let postfix: Postfix | null = null;
let sink: UpstreamSink | null = null;
/** catchall-guard listens here in every test (a fresh instance each time): Postfix's transport_maps point at it. */
let guardPort = 0;
let guard: TestApp | null = null;

beforeAll(async () => {
  sink = await startSink('accept');
  guardPort = await freeLoopbackPort();
  postfix = await startPostfix({ relay: { 'example.test': guardPort, 'crm.test': sink.port } });
});

afterEach(async () => {
  await guard?.stop();
  guard = null;
});

afterAll(async () => {
  await postfix?.stop();
  await sink?.close();
});

function need<T>(v: T | null): T {
  if (v === null) throw new Error('beforeAll did not finish');
  return v;
}

/** SPF/DMARC evidence for crm.test without the network: an empty zone, every name NXDOMAIN. */
const noDns: DnsResolver = async (name, rrtype) => {
  throw Object.assign(new Error(`${name} ${rrtype}: NXDOMAIN (no DNS in this test)`), { code: 'ENOTFOUND' });
};

async function startGuard(unknownRecipients: 'quarantine' | 'reject-after-data'): Promise<TestApp> {
  const notices: RawConfig = {
    enabled: true,
    format: 'dsn',
    requireSenderAuth: 'none',
    // the notice goes back through the CRM's Postfix, which relays crm.test to the bounce sink
    transport: { type: 'smtp', host: '127.0.0.1', port: need(postfix).port },
  };
  guard = await startApp(
    {
      server: { hostname: 'mx.test.invalid', listen: { host: '127.0.0.1', port: guardPort }, greetDelay: 0 },
      domains: [{ name: 'example.test', unknownRecipients, recipients: ['alice'] }],
      notices,
    },
    { deps: { noticeResolver: noDns } },
  );
  return guard;
}

const crmMessage = (marker: string): string =>
  [
    'From: Repair Service <service@crm.test>',
    `To: ${RCPT}`,
    'Subject: Your repair order 4711',
    `Message-ID: <order-4711-${process.pid}-${Date.now()}@crm.test>`,
    `Date: ${formatRfc5322Date(new Date())}`,
    'List-Unsubscribe: <mailto:unsubscribe+4711@crm.test>',
    'Precedence: bulk',
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `Dear customer, your device (serial ${marker}) is repaired and ready for pick-up.`,
    'We will send the courier to your home address: 1 Secret Lane.',
    '',
  ].join('\n');

/** The CRM submits through its MTA: sendmail -f <VERP bounce address> -V <envid> -N failure <rcpt>. */
async function submit(marker: string): Promise<void> {
  await need(postfix).sendmail(['-f', BOUNCES, '-V', ENVID, '-N', 'failure', RCPT], crmMessage(marker));
}

/** Waits (bounded) for the bounce sink's next message, flushing Postfix's queue now and then. */
async function nextAtSink(before: number): Promise<SinkMessage> {
  const pf = need(postfix);
  const s = need(sink);
  const deadline = Date.now() + DELIVERY_WAIT_MS;
  await pf.flush();
  while (s.messages.length <= before) {
    if (Date.now() > deadline)
      throw new Error(
        `the bounce sink got nothing within ${DELIVERY_WAIT_MS / 1000} s; Postfix's queue:\n${await pf.queue()}\n` +
          `its log:\n${pf.log()}`,
      );
    await s.waitForMessages(before + 1, 2000).catch(() => pf.flush());
  }
  const m = s.messages[before];
  if (!m) throw new Error('unreachable: the sink has the message');
  return m;
}

/** The header field `name` of a header block (unfolded), or ''. */
function headerField(block: string, name: string): string {
  const unfolded = block.replace(/\n[ \t]+/g, ' ');
  const line = unfolded.split('\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line ? line.slice(name.length + 1).trim() : '';
}

/**
 * The body of the message/delivery-status part of a multipart/report, as it was on the wire (both
 * reports here send it 7bit, unencoded), lines ending in \n, the final CRLF before the boundary
 * belonging to the boundary (RFC 2046 §5.1.1).
 */
function deliveryStatus(raw: Buffer): string {
  const text = raw.toString('latin1').replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const contentType = headerField(text.slice(0, split), 'Content-Type');
  expect(contentType).toMatch(/^multipart\/report;.*report-type=delivery-status/i);
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const parts = text
    .slice(split + 2)
    .split(`\n--${boundary}`)
    .slice(1);
  for (const part of parts) {
    const end = part.indexOf('\n\n');
    if (end < 0) continue;
    if (/^message\/delivery-status\b/i.test(headerField(part.slice(0, end), 'Content-Type')))
      return part.slice(end + 2);
  }
  throw new Error(`no message/delivery-status part in:\n${text}`);
}

function entries(app: TestApp): QuarantineEntry[] {
  const dir = path.join(app.dataDir, 'quarantine');
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as QuarantineEntry);
}

const uniqueMarker = (): string =>
  `SERIAL-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

describe('a real sending MTA (Postfix) in front of catchall-guard', () => {
  it('quarantine: the notice goes back through Postfix to the bounce handler, MAIL FROM:<>, with Original-Envelope-Id, Final-Recipient and Status 5.1.1, and no body', async () => {
    const t = await startGuard('quarantine');
    const before = need(sink).messages.length;
    const marker = uniqueMarker();
    await submit(marker);
    const m = await nextAtSink(before);

    expect(m.from).toBe('');
    expect(m.to).toEqual([BOUNCES]);
    const raw = m.raw.toString('latin1');
    // relayed by the CRM's Postfix, as a notice to a real sender's domain would be by its MX
    expect(raw).toMatch(/^Received: from [^\r\n]*\r?\n\s+by mta\.crm\.test \(Postfix\)/m);
    expect(raw).toContain('Auto-Submitted: auto-replied');
    expect(raw).not.toContain(marker);
    expect(raw).not.toContain('1 Secret Lane');

    const all = entries(t);
    expect(all).toHaveLength(1);
    const [entry] = all;
    expect(entry?.kind).toBe('quarantined');
    const status = deliveryStatus(m.raw);
    expect(status.split('\n')).toEqual([
      `Original-Envelope-Id: ${ENVID}`,
      'Reporting-MTA: dns; mx.test.invalid',
      `Arrival-Date: ${formatRfc5322Date(new Date(entry?.receivedAt ?? 0))}`,
      '',
      // Postfix passes the recipient as submitted (ORCPT) and NOTIFY=FAILURE, as sendmail -N asked
      `Original-Recipient: rfc822;${RCPT}`,
      `Final-Recipient: rfc822; ${RCPT}`,
      'Action: failed',
      'Status: 5.1.1',
      `Diagnostic-Code: smtp; 550 5.1.1 <${RCPT}>: recipient address rejected: user unknown`,
      '',
    ]);
    // what Postfix told us through the DSN extension is what the entry keeps
    expect(entry?.mailFrom).toBe(BOUNCES);
    expect(entry?.dsn).toEqual({
      envid: ENVID,
      recipients: [{ address: RCPT, notify: ['FAILURE'], orcpt: `rfc822;${RCPT}` }],
    });
    await t.events.waitFor('notice', (e) => e.status === 'sent');
  }, 40_000);

  it('reject-after-data: Postfix gets our 550 5.1.1 after DATA and bounces to the CRM itself (MAIL FROM:<>, Original-Envelope-Id, Status 5.1.1, our 550 as Diagnostic-Code); we keep one headers-only record, kind rejected', async () => {
    const t = await startGuard('reject-after-data');
    const before = need(sink).messages.length;
    const marker = uniqueMarker();
    await submit(marker);
    const m = await nextAtSink(before);

    expect(m.from).toBe('');
    expect(m.to).toEqual([BOUNCES]);
    const status = deliveryStatus(m.raw);
    const fields = status.replace(/\n[ \t]+/g, ' ').split('\n');
    expect(fields).toContain(`Reporting-MTA: dns; ${need(postfix).hostname}`);
    expect(fields).toContain(`Original-Envelope-Id: ${ENVID}`);
    expect(fields).toContain(`Final-Recipient: rfc822; ${RCPT}`);
    expect(fields).toContain('Action: failed');
    expect(fields).toContain('Status: 5.1.1');
    expect(fields).toContain(`Diagnostic-Code: smtp; 550 5.1.1 <${RCPT}>: recipient address rejected: user unknown`);

    const all = entries(t);
    expect(all).toHaveLength(1);
    const [entry] = all;
    expect(entry?.kind).toBe('rejected');
    expect(entry?.bodyStored).toBe(false);
    expect(entry?.mailFrom).toBe(BOUNCES);
    expect(entry?.recipients).toEqual([RCPT]);
    expect(entry?.notice.status).toBe('not-needed');
    expect(entry?.dsn?.envid).toBe(ENVID);
    const eml = readFileSync(path.join(t.dataDir, 'quarantine', `${entry?.id ?? ''}.eml`), 'latin1');
    expect(eml).toContain('Subject: Your repair order 4711');
    expect(eml).not.toContain(marker);
    // the sender learns from Postfix's bounce alone: no notice of ours goes out
    expect(t.events.of('notice')).toEqual([]);
  }, 40_000);
});
