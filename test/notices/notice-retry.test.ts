// Temporary failures are retried with backoff, also across a restart; a send interrupted by a crash is
// never repeated (at most once); permanent refusals and an exhausted retry window end in `failed`.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { queuedId } from '../helpers/files.js';
import { sendMessage } from '../helpers/smtp-client.js';
import { closedPort, startSink } from '../helpers/upstream-sink.js';
import { markedMessage, noticeSite, runApp, smarthost, uniqueMarker, type RunningApp } from './notice-app.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function quarantine(t: RunningApp): Promise<string> {
  const r = await sendMessage(t.port, {
    from: 'jane@client.test',
    to: ['typo@example.test'],
    raw: markedMessage(uniqueMarker()),
  });
  expect(r.code).toBe(250);
  return queuedId(r.response);
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('retries', () => {
  it('sink answers 451 once → deferred with attempts and nextAttemptAt, then it arrives', async () => {
    const sink = await startSink('tempfail');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeRetryBaseMs: 300 });
    cleanup.push(() => t.stop());
    const before = Date.now();
    const qid = await quarantine(t);

    const deferred = await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'deferred');
    const deferredAt = Date.now();
    expect(deferred).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'deferred',
      reason: 'temporary-failure',
      attempts: 1,
      detail: '451 4.3.0 upstream is busy',
    });
    sink.mode = 'accept';
    const entry = site.entry(qid);
    // the first retry one base delay (300 ms) after the failed attempt
    const retryAt = Date.parse(entry.notice.nextAttemptAt ?? '');
    expect(retryAt - 300).toBeGreaterThanOrEqual(before);
    expect(retryAt - 300).toBeLessThanOrEqual(deferredAt);
    expect(entry.notice).toEqual({
      status: 'pending',
      reason: 'temporary-failure',
      attempts: 1,
      nextAttemptAt: new Date(retryAt).toISOString(),
      lastError: '451 4.3.0 upstream is busy',
      to: 'jane@client.test',
    });

    expect(await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent')).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'sent',
      attempts: 2,
    });
    const sentSeen = Date.now();
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]?.from).toBe('');
    expect(sink.messages[0]?.to).toEqual(['jane@client.test']);
    const sent = site.entry(qid).notice;
    const sentAt = Date.parse(sent.sentAt ?? '');
    expect(sentAt).toBeGreaterThanOrEqual(retryAt);
    expect(sentAt).toBeLessThanOrEqual(sentSeen);
    expect(sent).toEqual({
      status: 'sent',
      attempts: 2,
      sentAt: new Date(sentAt).toISOString(),
      to: 'jane@client.test',
    });
  });

  it('the app stops between the failure and the retry; a NEW app on the same data sends it, exactly once', async () => {
    const sink = await startSink('tempfail');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());

    const first = await runApp(site, { noticeRetryBaseMs: 400 });
    const before = Date.now();
    const qid = await quarantine(first);
    await first.events.waitFor('notice', (e) => e.qid === qid && e.status === 'deferred');
    await first.stop();
    const pending = site.entry(qid).notice;
    // the retry 400 ms after the failed attempt, which was before the app stopped
    expect(Date.parse(pending.nextAttemptAt ?? '') - 400).toBeGreaterThanOrEqual(before);
    expect(Date.parse(pending.nextAttemptAt ?? '') - 400).toBeLessThanOrEqual(Date.now());
    expect(pending).toEqual({
      status: 'pending',
      reason: 'temporary-failure',
      attempts: 1,
      nextAttemptAt: pending.nextAttemptAt,
      lastError: '451 4.3.0 upstream is busy',
      to: 'jane@client.test',
    });

    sink.mode = 'accept';
    const second = await runApp(site, { noticeRetryBaseMs: 400 });
    cleanup.push(() => second.stop());
    const sentEvent = { event: 'notice', qid, to: 'jane@client.test', status: 'sent', attempts: 2 };
    expect(await second.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent')).toEqual(sentEvent);
    await pause(1000); // time for a duplicate to show up, if there were one
    expect(sink.messages).toHaveLength(1);
    expect(second.events.of('notice').filter((e) => e.qid === qid)).toEqual([sentEvent]);
    expect(site.entry(qid).notice).toMatchObject({ status: 'sent', attempts: 2, to: 'jane@client.test' });
  });

  it('an entry left in `sending` by a crash is marked failed at start, never sent again', async () => {
    const sink = await startSink('tempfail');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());
    const first = await runApp(site, { noticeRetryBaseMs: 60_000 });
    const qid = await quarantine(first);
    await first.events.waitFor('notice', (e) => e.qid === qid && e.status === 'deferred');
    await first.stop();
    // what a crash between "sending" and the peer's answer leaves on disk
    const json = path.join(site.dataDir, 'quarantine', `${qid}.json`);
    const crashed = site.entry(qid);
    const crashedAt = new Date().toISOString();
    writeFileSync(
      json,
      JSON.stringify({
        ...crashed,
        notice: { ...crashed.notice, status: 'sending', attempts: 2, nextAttemptAt: crashedAt },
      }),
    );

    sink.mode = 'accept'; // a resend would now succeed: it must not happen
    const second = await runApp(site, { noticeRetryBaseMs: 50 });
    cleanup.push(() => second.stop());
    const failedEvent = {
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'failed',
      reason: 'interrupted-possibly-sent',
      attempts: 2,
    };
    expect(await second.events.waitFor('notice', (e) => e.qid === qid)).toEqual(failedEvent);
    expect(site.entry(qid).notice).toEqual({
      status: 'failed',
      reason: 'interrupted-possibly-sent',
      attempts: 2,
      nextAttemptAt: crashedAt,
      lastError: '451 4.3.0 upstream is busy',
      to: 'jane@client.test',
    });
    await pause(500);
    expect(second.events.of('notice').filter((e) => e.qid === qid)).toEqual([failedEvent]);
    expect(sink.messages).toEqual([]);
  });

  it('a permanent 5xx → failed at once, no retry', async () => {
    const sink = await startSink('reject');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeRetryBaseMs: 50 });
    cleanup.push(() => t.stop());
    const qid = await quarantine(t);
    const e = await t.events.waitFor('notice', (x) => x.qid === qid);
    expect(e).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'failed',
      reason: 'rejected',
      attempts: 1,
      detail: '550 5.7.1 message refused by policy',
    });
    await pause(300);
    expect(t.events.of('notice').filter((x) => x.qid === qid)).toEqual([e]);
    expect(site.entry(qid).notice).toEqual({
      status: 'failed',
      reason: 'rejected',
      attempts: 1,
      lastError: '550 5.7.1 message refused by policy',
      to: 'jane@client.test',
    });
  });

  it('temporary failures past the retry window → failed retries-exhausted', async () => {
    const port = await closedPort();
    const site = noticeSite(smarthost(port));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeRetryBaseMs: 50, noticeRetryWindowMs: 400 });
    cleanup.push(() => t.stop());
    const qid = await quarantine(t);
    const failed = await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'failed');
    // every attempt before the last was a deferral (how many fit into the window depends on the machine's load)
    const deferred = t.events.of('notice').filter((x) => x.qid === qid && x.status === 'deferred');
    expect(deferred.map((x) => x.attempts)).toEqual(deferred.map((_, i) => i + 1));
    const refused = `connect ECONNREFUSED 127.0.0.1:${port}`;
    expect(deferred.map((x) => [x.reason, x.detail])).toEqual(deferred.map(() => ['connection-failed', refused]));
    expect(failed).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'failed',
      reason: 'retries-exhausted',
      attempts: deferred.length + 1,
      detail: refused,
    });
    expect(site.entry(qid).notice).toEqual({
      status: 'failed',
      reason: 'retries-exhausted',
      attempts: deferred.length + 1,
      lastError: refused,
      to: 'jane@client.test',
    });
  });

  it('an unreachable smarthost is never fatal: the message is still accepted and the notice waits', async () => {
    const port = await closedPort();
    const site = noticeSite(smarthost(port));
    cleanup.push(() => site.remove());
    const t = await runApp(site);
    cleanup.push(() => t.stop());
    const before = Date.now();
    const qid = await quarantine(t);
    await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'deferred');
    const deferredAt = Date.now();
    const n = site.entry(qid).notice;
    // the default backoff: the first retry a minute after the failed attempt
    const retryAt = Date.parse(n.nextAttemptAt ?? '');
    expect(retryAt - 60_000).toBeGreaterThanOrEqual(before);
    expect(retryAt - 60_000).toBeLessThanOrEqual(deferredAt);
    expect(n).toEqual({
      status: 'pending',
      reason: 'connection-failed',
      attempts: 1,
      nextAttemptAt: new Date(retryAt).toISOString(),
      lastError: `connect ECONNREFUSED 127.0.0.1:${port}`,
      to: 'jane@client.test',
    });
  });
});
