// requireSenderAuth against an offline resolver (SPF pass / fail / DNS error), and the `direct`
// transport: MX lookup through the same resolver, port 25 replaced by a sink.
import { afterEach, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { pollUntil, queuedId } from '../helpers/files.js';
import { sendMessage } from '../helpers/smtp-client.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';
import { fakeDns, markedMessage, noticeSite, runApp, smarthost, uniqueMarker, type RunningApp } from './notice-app.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function quarantine(t: RunningApp, from: string, raw = markedMessage(uniqueMarker(), { from })): Promise<string> {
  const r = await sendMessage(t.port, { from, to: ['typo@example.test'], raw });
  expect(r.code).toBe(250);
  return queuedId(r.response);
}

async function sink(mode: 'accept' | 'reject' = 'accept'): Promise<UpstreamSink> {
  const s = await startSink(mode);
  cleanup.push(() => s.close());
  return s;
}

describe('requireSenderAuth: spf (the client is 127.0.0.1)', () => {
  const dns = fakeDns({
    'pass.test TXT': [['v=spf1 ip4:127.0.0.1 -all']],
    'fail.test TXT': [['v=spf1 ip4:192.0.2.1 -all']],
    'soft.test TXT': [['v=spf1 ~all']],
    'broken.test TXT': 'ESERVFAIL',
  });

  it.each([
    ['jane@pass.test', 'sent', undefined, 'pass'],
    ['jane@fail.test', 'suppressed', 'sender-auth-failed', 'fail'],
    ['jane@soft.test', 'suppressed', 'sender-auth-failed', 'softfail'],
    ['jane@nospf.test', 'suppressed', 'sender-auth-failed', 'none'],
    ['jane@broken.test', 'suppressed', 'sender-auth-failed', 'temperror'],
  ])('%s → %s %s (auth.spf %s)', async (from, status, reason, spf) => {
    const s = await sink();
    const site = noticeSite(smarthost(s.port, { requireSenderAuth: 'spf' }));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeResolver: dns });
    cleanup.push(() => t.stop());
    const qid = await quarantine(t, from);
    const e = await t.events.waitFor('notice', (x) => x.qid === qid && x.status !== 'deferred');
    expect(e).toEqual(
      status === 'sent'
        ? { event: 'notice', qid, to: from, status, attempts: 1 }
        : { event: 'notice', qid, to: from, status, reason },
    );
    // both results are recorded whatever the gate reads (SPEC §5): the zone publishes no DMARC record
    expect(site.entry(qid).auth).toEqual({ spf, dmarc: 'none', aligned: true });
    expect(s.messages).toHaveLength(status === 'sent' ? 1 : 0);
  });

  it('a resolver that throws outright is a temperror, not a crash', async () => {
    const s = await sink();
    const site = noticeSite(smarthost(s.port, { requireSenderAuth: 'spf' }));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeResolver: async () => Promise.reject(new Error('resolver on fire')) });
    cleanup.push(() => t.stop());
    const qid = await quarantine(t, 'jane@pass.test');
    expect(await t.events.waitFor('notice', (x) => x.qid === qid)).toEqual({
      event: 'notice',
      qid,
      to: 'jane@pass.test',
      status: 'suppressed',
      reason: 'sender-auth-failed',
    });
    expect(site.entry(qid).auth).toEqual({ spf: 'temperror', dmarc: 'temperror', aligned: true });
    expect(s.messages).toEqual([]);
  });

  it('requireSenderAuth none: the notice goes without waiting for DNS; the evidence is recorded after it (SPEC §5)', async () => {
    const s = await sink();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const slow = fakeDns({});
    // every look-up waits until the notice has gone: the notice must not wait for them
    const held = async (name: string, rrtype: string): Promise<unknown> => {
      await gate;
      return slow(name, rrtype);
    };
    const site = noticeSite(smarthost(s.port));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeResolver: held });
    cleanup.push(() => t.stop());
    const qid = await quarantine(t, 'jane@nospf.test');
    await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'sent');
    expect(s.messages).toHaveLength(1);
    expect(site.entry(qid).auth).toBeNull();
    release();
    await pollUntil(() => site.entry(qid).auth ?? undefined, 'auth recorded', 10_000);
    expect(site.entry(qid).auth).toEqual({ spf: 'none', dmarc: 'none', aligned: true });
    expect(site.entry(qid).notice).toMatchObject({ status: 'sent', attempts: 1 });
    expect(slow.queries).toContain('nospf.test TXT');
  });
});

describe('requireSenderAuth: dmarc', () => {
  const dns = fakeDns({
    'shop.test TXT': [['v=spf1 ip4:127.0.0.1 -all']],
    '_dmarc.shop.test TXT': [['v=DMARC1; p=reject']],
    '_dmarc.bank.test TXT': [['v=DMARC1; p=reject']],
  });

  it('DMARC pass and envelope sender aligned with From: → sent; a From: of another domain → suppressed', async () => {
    const s = await sink();
    const site = noticeSite(smarthost(s.port, { requireSenderAuth: 'dmarc' }));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeResolver: dns });
    cleanup.push(() => t.stop());
    const good = await quarantine(
      t,
      'orders@shop.test',
      markedMessage(uniqueMarker(), { from: 'news@mail.shop.test' }),
    );
    expect(await t.events.waitFor('notice', (x) => x.qid === good)).toEqual({
      event: 'notice',
      qid: good,
      to: 'orders@shop.test',
      status: 'sent',
      attempts: 1,
    });
    expect(site.entry(good).auth).toEqual({ spf: 'pass', dmarc: 'pass', aligned: true });

    const forged = await quarantine(t, 'orders@shop.test', markedMessage(uniqueMarker(), { from: 'ceo@bank.test' }));
    expect(await t.events.waitFor('notice', (x) => x.qid === forged)).toEqual({
      event: 'notice',
      qid: forged,
      to: 'orders@shop.test',
      status: 'suppressed',
      reason: 'sender-auth-failed',
    });
    expect(site.entry(forged).auth).toEqual({ spf: 'pass', dmarc: 'fail', aligned: false });
    expect(s.messages.map((m) => m.to)).toEqual([['orders@shop.test']]);
  });
});

describe('transport: direct', () => {
  async function direct(
    s: UpstreamSink,
    zone: Record<string, unknown>,
  ): Promise<{ t: RunningApp; site: ReturnType<typeof noticeSite> }> {
    const site = noticeSite({ enabled: true, requireSenderAuth: 'none', transport: { type: 'direct' } });
    cleanup.push(() => site.remove());
    const t = await runApp(site, {
      noticeResolver: fakeDns(zone),
      noticeDirect: { port: s.port, allowUnroutable: true },
      noticeRetryBaseMs: 50,
    });
    cleanup.push(() => t.stop());
    return { t, site };
  }

  it("resolves the sender domain's MX and delivers there with MAIL FROM:<>", async () => {
    const s = await sink();
    const { t } = await direct(s, {
      'client.test MX': [
        { exchange: 'mx-dead.client.test', priority: 5 },
        { exchange: 'mx.client.test', priority: 10 },
      ],
      'mx-dead.client.test A': ['127.0.0.2'], // nothing listens there on the sink's port: the next MX is tried
      'mx.client.test A': ['127.0.0.1'],
    });
    const qid = await quarantine(t, 'jane@client.test');
    await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'sent');
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]?.from).toBe('');
    expect(s.messages[0]?.to).toEqual(['jane@client.test']);
    expect((await simpleParser(s.messages[0]?.raw ?? '')).headers.get('auto-submitted')).toBe('auto-replied');
  });

  it("no MX → the domain's own address (implicit MX)", async () => {
    const s = await sink();
    const { t } = await direct(s, { 'client.test A': ['127.0.0.1'] });
    const qid = await quarantine(t, 'jane@client.test');
    await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'sent');
    expect(s.messages.map((m) => [m.from, m.to])).toEqual([['', ['jane@client.test']]]);
  });

  it('a null MX or a domain that does not exist → failed, no retry', async () => {
    const s = await sink();
    const { t, site } = await direct(s, { 'client.test MX': [{ exchange: '.', priority: 0 }] });
    const qid = await quarantine(t, 'jane@client.test');
    expect(await t.events.waitFor('notice', (x) => x.qid === qid)).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'failed',
      reason: 'null-mx',
      attempts: 1,
      detail: 'client.test: null-mx',
    });
    const gone = await quarantine(t, 'jane@gone.test');
    expect(await t.events.waitFor('notice', (x) => x.qid === gone)).toEqual({
      event: 'notice',
      qid: gone,
      to: 'jane@gone.test',
      status: 'failed',
      reason: 'no-such-domain',
      attempts: 1,
      detail: 'gone.test: no-such-domain',
    });
    expect(site.entry(gone).notice).toEqual({
      status: 'failed',
      reason: 'no-such-domain',
      attempts: 1,
      lastError: 'gone.test: no-such-domain',
      to: 'jane@gone.test',
    });
    expect(s.messages).toEqual([]);
  });

  it('the MX answers 550 → failed rejected', async () => {
    const s = await sink('reject');
    const { t } = await direct(s, {
      'client.test MX': [{ exchange: 'mx.client.test', priority: 10 }],
      'mx.client.test A': ['127.0.0.1'],
    });
    const qid = await quarantine(t, 'jane@client.test');
    expect(await t.events.waitFor('notice', (x) => x.qid === qid)).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'failed',
      reason: 'rejected',
      attempts: 1,
      detail: '550 5.7.1 message refused by policy',
    });
    expect(s.messages).toEqual([]);
  });

  it('a DNS outage while looking up the MX → deferred', async () => {
    const s = await sink();
    const { t } = await direct(s, { 'client.test MX': 'ESERVFAIL' });
    const qid = await quarantine(t, 'jane@client.test');
    expect(await t.events.waitFor('notice', (x) => x.qid === qid)).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'deferred',
      reason: 'dns-temporary',
      attempts: 1,
      detail: 'MX client.test: ESERVFAIL',
    });
  });
});
