// µs per header-facts parse of a typical 1.5 KB header block: the old simpleParser pipeline against
// the mailsplit/libmime parse in src/message/headers.ts (#13). Not a test, a measurement:
//   npx vite-node test/bench/message-facts.ts [calls per run, default 2000] [runs, default 9]
import { readMessageFacts } from '../../src/message/headers.js';
import { referenceMessageFacts } from '../helpers/facts-reference.js';

const BLOCK = Buffer.from(
  [
    'Received: from mail-out.sender.test (mail-out.sender.test [192.0.2.25])',
    '\tby mx.example.test (catchall-guard) with ESMTPS id 4f2a9c',
    '\tfor <nobody@example.test>; Tue, 02 Dec 2025 10:15:42 +0000',
    'Received: from app-7.internal.sender.test (app-7.internal.sender.test [10.1.2.7])',
    '\tby mail-out.sender.test (Postfix) with ESMTP id 8D1C21A0042',
    '\tfor <nobody@example.test>; Tue, 02 Dec 2025 10:15:41 +0000 (UTC)',
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.test; s=s2025;',
    '\tt=1764670541; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;',
    '\th=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type:List-Unsubscribe;',
    '\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSByaWdodCBsZW5ndGgg',
    '\t Zm9yIGEgMjA0OCBiaXQga2V5IGFuZCB0aGF0IGlzIHdoYXQgY291bnRzIGZvciB0aGUgcGFyc2UgdGlt',
    '\t ZSBvZiBhIGhlYWRlciBibG9jayBvZiBhIHR5cGljYWwgbmV3c2xldHRlciBvciBub3RpZmljYXRpb24=',
    'From: =?utf-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg.mueller@sender.test>',
    'To: "Nobody" <nobody@example.test>',
    'Subject: =?utf-8?B?WW91ciBvcmRlciAjNDcxMSBoYXMgc2hpcHBlZCDinIU=?=',
    'Date: Tue, 02 Dec 2025 10:15:40 +0000',
    'Message-ID: <20251202101540.4711.abcdef@app-7.internal.sender.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="----=_Part_4711_1234567.1764670540"',
    'List-Unsubscribe: <mailto:unsubscribe@sender.test?subject=unsubscribe-4711>,',
    ' <https://sender.test/u/4711/abcdef0123456789>',
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    'List-Id: Order notifications <orders.sender.test>',
    'Precedence: bulk',
    'X-Mailer: shop-notifier 3.2',
    'X-Campaign: order-shipped-2025-12',
    'Feedback-ID: 4711:orders:sender.test',
    '',
  ].join('\r\n'),
);

const calls = Number(process.argv[2] ?? 2000);
const runs = Number(process.argv[3] ?? 9);

async function usPerCall(parse: (b: Buffer) => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await parse(BLOCK);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000 / calls);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

// warm both up (JIT, lazy requires) before the runs that count
for (let i = 0; i < 500; i++) {
  await referenceMessageFacts(BLOCK);
  await readMessageFacts(BLOCK);
}
const old = await usPerCall((b) => referenceMessageFacts(b));
const now = await usPerCall((b) => readMessageFacts(b));
console.log(
  `header block ${BLOCK.length} bytes, median of ${runs} runs x ${calls} calls: ` +
    `simpleParser ${old.toFixed(1)} µs/call, mailsplit+libmime ${now.toFixed(1)} µs/call (${(old / now).toFixed(1)}x)`,
);
