// readMessageId: the one-field scan used for the log of messages that are not quarantined.
import { describe, expect, it } from 'vitest';
import { readMessageFacts, readMessageId } from '../../src/message/headers.js';

const block = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('readMessageId', () => {
  it.each<[string, string | null]>([
    ['Message-ID: <a@b.test>\r\nSubject: x\r\n', '<a@b.test>'],
    ['subject: x\r\nmessage-id:<c@d.test>\r\n', '<c@d.test>'],
    ['MESSAGE-ID:\r\n <folded@e.test>\r\n', '<folded@e.test>'],
    ['Message-ID: <a@b.test> (comment)\r\n', '<a@b.test>'],
    ['Message-ID: no-brackets@x.test\r\n', 'no-brackets@x.test'],
    ['Subject: no id\r\n', null],
    ['Message-ID:   \r\n', null],
    ['X-Message-ID: <not-this@x.test>\r\n', null],
  ])('%j → %j', (text, expected) => {
    expect(readMessageId(block(text))).toBe(expected);
  });

  it('agrees with mailparser on a normal header block', async () => {
    const b = block('From: a@b.test\r\nMessage-ID: <same@x.test>\r\nSubject: s\r\n');
    expect(readMessageId(b)).toBe((await readMessageFacts(b)).messageId);
  });
});
