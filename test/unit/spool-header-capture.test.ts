// A header block that never ends is stored whole but parsed only up to MAX_HEADER_CAPTURE (64 KiB):
// the capture is what each session holds in memory for it (the RSS figures are in the #9 closing note).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_HEADER_CAPTURE, releaseMessage, spoolMessage } from '../../src/message/spool.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('header capture is bounded', () => {
  it('a 300 KB header block: at most 64 KiB kept for parsing, cut after a whole line; the message is spooled whole', async () => {
    expect(MAX_HEADER_CAPTURE).toBe(64 * 1024);
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-spool-'));
    dirs.push(dir);
    const line = `X-Filler: ${'h'.repeat(990)}\r\n`;
    const raw = Buffer.from(`Subject: long\r\n${line.repeat(300)}\r\nbody\r\n`);
    const chunks = Array.from({ length: Math.ceil(raw.length / 8192) }, (_, i) =>
      raw.subarray(i * 8192, (i + 1) * 8192),
    );
    const r = await spoolMessage(Readable.from(chunks), {
      dir,
      name: 'm1',
      traceHeader: 'Received: x\r\n',
      maxBytes: 10 * 1024 * 1024,
    });
    expect(r.kind).toBe('spooled');
    if (r.kind !== 'spooled') return;
    const m = r.message;
    // the whole lines that fit into 64 KiB: Subject (15 octets) and 65 fillers of 1002 = 65,145 octets
    const fitting = Math.floor((MAX_HEADER_CAPTURE - 'Subject: long\r\n'.length) / line.length);
    expect(fitting).toBe(65);
    expect(m.headerBlock.toString('latin1')).toBe(`Subject: long\r\n${line.repeat(fitting)}`);
    expect(m.size).toBe(raw.length + 'Received: x\r\n'.length);
    expect(m.kind).toBe('file');
    if (m.kind === 'file')
      expect(readFileSync(m.path).equals(Buffer.concat([Buffer.from('Received: x\r\n'), raw]))).toBe(true);
    await releaseMessage(m);
  });
});
