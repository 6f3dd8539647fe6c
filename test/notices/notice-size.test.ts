// Issue #9 item 6 end to end: a message with a ~360 KB header block of 8-bit text, sent over SMTP and
// quarantined; the notice that reaches the sink is at most 256 KiB and says its header block was cut.
import { afterEach, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { MAX_NOTICE_BYTES } from '../../src/notice/compose.js';
import { queuedId } from '../helpers/files.js';
import { sendVerbatim } from '../helpers/smtp-client.js';
import { startSink } from '../helpers/upstream-sink.js';
import { noticeSite, runApp, smarthost, uniqueMarker } from './notice-app.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('notice size end to end (issue #9, item 6)', () => {
  it('a 360 KB 8-bit header block: the notice sent is at most 256 KiB, cut at a field boundary, and says so', async () => {
    const sink = await startSink('accept');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());
    const t = await runApp(site);
    cleanup.push(() => t.stop());

    const marker = uniqueMarker();
    let header =
      'From: Jane <jane@client.test>\r\nTo: typo@example.test\r\nSubject: Grüße\r\nMessage-ID: <big-header@client.test>\r\n';
    for (let i = 0; Buffer.byteLength(header) < 360_000; i++) {
      header +=
        i % 4 === 0
          ? `X-Folded-${i}: Größenänderung für ${i}\r\n\tund Ümlaute äöü ${i}\r\n`
          : `X-Note-${i}: Bestätigung der Rückgabe, Straße ${i}, Grüße aus Köln\r\n`;
    }
    const r = await sendVerbatim(t.port, {
      from: 'jane@client.test',
      to: ['typo@example.test'],
      raw: `${header}\r\nDear customer ${marker}\r\n`,
    });
    expect(r.code).toBe(250);
    const qid = queuedId(r.response);

    const [m] = await sink.waitForMessages(1);
    const raw = m?.raw ?? Buffer.alloc(0);
    expect(raw.length).toBeLessThanOrEqual(MAX_NOTICE_BYTES);
    expect(raw.toString('latin1')).not.toContain(marker);
    const mail = await simpleParser(raw);
    const quoted = mail.attachments.find((a) => a.contentType === 'text/rfc822-headers')?.content ?? Buffer.alloc(0);
    // our own trace field first, then the sender's header block up to the end of a field
    const trace = new RegExp(
      `^Received: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\r\n\tby mx\\.test\\.invalid \\(catchall-guard\\) with ESMTP id ${qid}\r\n\tfor <typo@example\\.test>;\r\n\t[^\r\n]+\r\n`,
    ).exec(quoted.toString('latin1'));
    expect(trace, quoted.toString('latin1', 0, 400)).not.toBeNull();
    const fromAt = quoted.indexOf('From: Jane');
    expect(fromAt).toBe(trace?.[0].length);
    const own = quoted.subarray(fromAt);
    // the number the text gives is the number of fields quoted: ours and the sender's (a field starts a line)
    const fields = quoted
      .toString('latin1')
      .split('\r\n')
      .filter((l) => /^[^ \t]/.test(l)).length;
    expect(mail.text).toContain(
      `The header lines attached below were shortened to keep this report within 256 KiB: they are the first ${fields} header fields of the message.`,
    );
    const sent = Buffer.from(header, 'utf8');
    expect(own.length).toBeGreaterThan(60_000);
    expect(sent.subarray(0, own.length).equals(own)).toBe(true);
    const next = sent[own.length];
    expect(next === 0x20 || next === 0x09).toBe(false);
    expect(await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent')).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'sent',
      attempts: 1,
    });
  });
});
