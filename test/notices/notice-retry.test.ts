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
    const qid = await quarantine(t);

    const deferred = await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'deferred');
    expect(deferred).toMatchObject({ reason: 'temporary-failure', attempts: 1 });
    expect(deferred.detail).toMatch(/451/);
    sink.mode = 'accept';
    const entry = site.entry(qid);
    expect(entry.notice).toMatchObject({ status: 'pending', attempts: 1 });
    expect(Date.parse(entry.notice.nextAttemptAt ?? '')).toBeGreaterThan(Date.parse(entry.receivedAt));

    expect(await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent')).toMatchObject({
      attempts: 2,
    });
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]?.from).toBe('');
    expect(site.entry(qid).notice).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('the app stops between the failure and the retry; a NEW app on the same data sends it, exactly once', async () => {
    const sink = await startSink('tempfail');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());

    const first = await runApp(site, { noticeRetryBaseMs: 400 });
    const qid = await quarantine(first);
    await first.events.waitFor('notice', (e) => e.qid === qid && e.status === 'deferred');
    await first.stop();
    expect(site.entry(qid).notice).toMatchObject({ status: 'pending', attempts: 1 });

    sink.mode = 'accept';
    const second = await runApp(site, { noticeRetryBaseMs: 400 });
    cleanup.push(() => second.stop());
    expect(await second.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent')).toMatchObject({
      attempts: 2,
    });
    await pause(1000); // time for a duplicate to show up, if there were one
    expect(sink.messages).toHaveLength(1);
    expect(second.events.of('notice').filter((e) => e.qid === qid)).toHaveLength(1);
    expect(site.entry(qid).notice).toMatchObject({ status: 'sent', attempts: 2 });
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
    writeFileSync(
      json,
      JSON.stringify({
        ...crashed,
        notice: { ...crashed.notice, status: 'sending', attempts: 2, nextAttemptAt: new Date().toISOString() },
      }),
    );

    sink.mode = 'accept'; // a resend would now succeed: it must not happen
    const second = await runApp(site, { noticeRetryBaseMs: 50 });
    cleanup.push(() => second.stop());
    expect(await second.events.waitFor('notice', (e) => e.qid === qid)).toMatchObject({
      status: 'failed',
      reason: 'interrupted-possibly-sent',
      attempts: 2,
    });
    expect(site.entry(qid).notice).toMatchObject({
      status: 'failed',
      reason: 'interrupted-possibly-sent',
      attempts: 2,
    });
    await pause(500);
    expect(second.events.of('notice').filter((e) => e.qid === qid)).toHaveLength(1);
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
    expect(e).toMatchObject({ status: 'failed', reason: 'rejected', attempts: 1 });
    expect(e.detail).toMatch(/550/);
    await pause(300);
    expect(t.events.of('notice').filter((x) => x.qid === qid)).toHaveLength(1);
    expect(site.entry(qid).notice).toMatchObject({ status: 'failed', reason: 'rejected', attempts: 1 });
  });

  it('temporary failures past the retry window → failed retries-exhausted', async () => {
    const site = noticeSite(smarthost(await closedPort()));
    cleanup.push(() => site.remove());
    const t = await runApp(site, { noticeRetryBaseMs: 50, noticeRetryWindowMs: 400 });
    cleanup.push(() => t.stop());
    const qid = await quarantine(t);
    const failed = await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'failed');
    expect(failed.reason).toBe('retries-exhausted');
    // every attempt before the last was a deferral (how many fit into the window depends on the machine's load)
    const deferred = t.events.of('notice').filter((x) => x.qid === qid && x.status === 'deferred');
    expect(deferred.every((x) => x.reason === 'connection-failed')).toBe(true);
    expect(failed.attempts).toBe(deferred.length + 1);
    expect(site.entry(qid).notice).toMatchObject({ status: 'failed', reason: 'retries-exhausted' });
  });

  it('an unreachable smarthost is never fatal: the message is still accepted and the notice waits', async () => {
    const site = noticeSite(smarthost(await closedPort()));
    cleanup.push(() => site.remove());
    const t = await runApp(site);
    cleanup.push(() => t.stop());
    const qid = await quarantine(t);
    await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'deferred');
    const n = site.entry(qid).notice;
    expect(n.status).toBe('pending');
    // the default backoff: the first retry a minute later
    expect(Date.parse(n.nextAttemptAt ?? '') - Date.now()).toBeGreaterThan(50_000);
  });
});
