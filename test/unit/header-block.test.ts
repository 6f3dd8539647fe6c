// Where the header block ends: the blank line, or the first line that is neither a field nor a continuation.
import { describe, expect, it } from 'vitest';
import { scanHeaderBlock } from '../../src/message/header-block.js';

const scan = (s: string, from = 0): { end: number; complete: boolean } =>
  scanHeaderBlock(Buffer.from(s, 'latin1'), from);

describe('scanHeaderBlock', () => {
  it.each<[string, string, { end: number; complete: boolean }]>([
    ['blank line (CRLF)', 'A: 1\r\nB: 2\r\n\r\nbody\r\n', { end: 14, complete: true }],
    ['blank line (LF)', 'A: 1\nB: 2\n\nbody\n', { end: 11, complete: true }],
    ['folded field', 'A: 1\r\n  more\r\n\r\nbody', { end: 16, complete: true }],
    ['no blank line: the body line ends the block', 'A: 1\r\nsecret body\r\n', { end: 6, complete: true }],
    ['the first line is not a field', 'hello\r\nA: 1\r\n', { end: 0, complete: true }],
    ['a continuation cannot start the message', ' x: 1\r\n', { end: 0, complete: true }],
    ['a field name with a space before the colon is a field', 'Subject : x\r\n\r\n', { end: 15, complete: true }],
    ['incomplete: data ends inside the block', 'A: 1\r\nB: 2', { end: 6, complete: false }],
    ['empty', '', { end: 0, complete: false }],
  ])('%s', (_name, text, expected) => {
    expect(scan(text)).toEqual(expected);
  });

  it('resumes from a line boundary', () => {
    const text = 'A: 1\r\nB: 2\r\n\r\nbody';
    expect(scan(text, 6)).toEqual({ end: 14, complete: true });
  });
});
