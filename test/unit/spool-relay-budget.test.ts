// A message that is only relayed (no fsync asked) stays in memory past 64 KiB while the relay budget
// (32 MiB for all such messages together) lasts; past it the next one is a spool file again, and
// releasing a message gives its share back. Anything fsynced, or with an explicit limit, is unchanged.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RELAY_MEMORY_BUDGET,
  relayMemoryHeld,
  releaseMessage,
  spoolMessage,
  type SpooledMessage,
} from '../../src/message/spool.js';

const MB = 1024 * 1024;
const TRACE = 'Received: x\r\n';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function spoolDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-spool-'));
  dirs.push(dir);
  return dir;
}

/** `bytes` of message in 64 KiB chunks, as smtp-server hands a DATA stream on. */
function message(bytes: number, fill: string): { raw: Buffer; stream: Readable } {
  const line = `${fill.repeat(78)}\r\n`;
  const raw = Buffer.from(`Subject: ${fill}\r\n\r\n${line.repeat(Math.ceil(bytes / line.length))}`);
  const chunks = Array.from({ length: Math.ceil(raw.length / 65536) }, (_, i) =>
    raw.subarray(i * 65536, (i + 1) * 65536),
  );
  return { raw, stream: Readable.from(chunks) };
}

async function spool(dir: string, name: string, bytes: number, sync: boolean, memoryLimit?: number) {
  const m = message(bytes, name.slice(-1));
  const r = await spoolMessage(m.stream, {
    dir,
    name,
    traceHeader: TRACE,
    maxBytes: 64 * MB,
    sync,
    ...(memoryLimit !== undefined ? { memoryLimit } : {}),
  });
  if (r.kind !== 'spooled') throw new Error(`not spooled: ${r.kind}`);
  return { message: r.message, raw: m.raw };
}

const stored = (m: SpooledMessage): Buffer => (m.kind === 'memory' ? m.data : readFileSync(m.path));

describe('the relay memory budget', () => {
  it('a 1 MB relayed message stays in memory whole, holds its size of the budget until released', async () => {
    const dir = spoolDir();
    expect(relayMemoryHeld()).toBe(0);
    const { message: m, raw } = await spool(dir, 'm1', MB, false);
    expect(m.kind).toBe('memory');
    expect(stored(m).equals(Buffer.concat([Buffer.from(TRACE), raw]))).toBe(true);
    expect(m.size).toBe(TRACE.length + raw.length);
    expect(m.headerBlock.toString('latin1')).toBe('Subject: 1\r\n\r\n');
    // the first 64 KiB are the ordinary in-memory allowance; the rest is borrowed from the budget
    expect(relayMemoryHeld()).toBeGreaterThan(MB - 128 * 1024);
    expect(relayMemoryHeld()).toBeLessThanOrEqual(m.size);
    expect(readdirSync(dir)).toEqual([]);
    await releaseMessage(m);
    expect(relayMemoryHeld()).toBe(0);
  });

  it('past the budget the next relayed message is a spool file, complete, and the budget is back at 0 after both', async () => {
    const dir = spoolDir();
    const big = Math.floor(RELAY_MEMORY_BUDGET * 0.75);
    const first = await spool(dir, 'm2', big, false);
    expect(first.message.kind).toBe('memory');
    const second = await spool(dir, 'm3', big, false);
    expect(second.message.kind).toBe('file');
    expect(stored(second.message).equals(Buffer.concat([Buffer.from(TRACE), second.raw]))).toBe(true);
    // the part that went to the file before the budget ran out is not counted twice
    expect(relayMemoryHeld()).toBeLessThanOrEqual(first.message.size);
    await releaseMessage(first.message);
    await releaseMessage(second.message);
    expect(relayMemoryHeld()).toBe(0);
    if (second.message.kind === 'file') expect(existsSync(second.message.path)).toBe(false);
  });

  it('an fsynced message (Maildir, quarantine) and an explicit memory limit still go to a spool file', async () => {
    const dir = spoolDir();
    const synced = await spool(dir, 'm4', MB, true);
    expect(synced.message.kind).toBe('file');
    const explicit = await spool(dir, 'm5', MB, false, 64 * 1024);
    expect(explicit.message.kind).toBe('file');
    expect(relayMemoryHeld()).toBe(0);
    await releaseMessage(synced.message);
    await releaseMessage(explicit.message);
  });

  it('a relayed message over maxBytes gives its share back (552, nothing kept)', async () => {
    const dir = spoolDir();
    const m = message(2 * MB, 'x');
    const r = await spoolMessage(m.stream, { dir, name: 'm6', traceHeader: TRACE, maxBytes: MB, sync: false });
    expect(r.kind).toBe('too-large');
    expect(relayMemoryHeld()).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });
});
