// Two MX instances (two processes of the built server, two ports, one data volume, one redis-server)
// under a load of concurrent sessions, and one of them killed with SIGKILL in the middle of it (#13,
// SPEC §11): `250` means durable, so every message either instance answered `250` is on disk whole, in
// the one place it belongs (the recipient's Maildir, or the quarantine for an unknown address); the
// survivor keeps answering, finds its peer gone and removes the dead one's spool (a large message cut
// off in the middle of its DATA, which is delivered nowhere).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { listDir, listFilesRecursive } from '../helpers/files.js';
import { startRedis } from '../helpers/redis.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';

beforeAll(() => buildDist(), 240_000);

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const CLIENTS = 8;
const LOAD_MS = 3_000;
const KILL_AT_MS = 1_500;
/** Test only: leases renewed every 300 ms, so the survivor looks at its peer's lease that often. */
const SHORT_LEASE = { CATCHALL_GUARD_TEST_LEASE_RENEW_MS: '300' };
const KNOWN = ['alice', 'bob'];

interface Sent {
  readonly marker: string;
  readonly rcpt: string;
  readonly known: boolean;
  readonly raw: string;
  readonly instance: 'mx-a' | 'mx-b';
  /** The final reply's code; 0: no reply (connection refused or closed, or timed out). */
  readonly code: number;
  readonly line: string;
  /** The session began after mx-a was killed (so on the survivor). */
  readonly afterKill: boolean;
}

/**
 * A message whose every line carries its marker, so a truncated copy is told from a whole one. Every
 * fifth is past the 64 KiB a session keeps in memory, so it goes through the instance's spool file.
 */
function message(marker: string, rcpt: string, n: number): string {
  const lines = n % 5 === 0 ? 1_400 : 40;
  const body = Array.from({ length: lines }, (_v, i) => `${marker} line ${i} of ${lines}: the quick brown fox`);
  return (
    `From: Load <load@client.test>\r\nTo: <${rcpt}>\r\nSubject: load ${marker}\r\n` +
    `Message-ID: <${marker}@client.test>\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\n\r\n` +
    `${body.join('\r\n')}\r\n`
  );
}

/** One session with one recipient; any failure on the way is "no reply" (code 0), never a throw. */
async function session(port: number, rcpt: string, raw: string): Promise<{ code: number; line: string }> {
  let client: RawSmtp | null = null;
  try {
    const c = await RawSmtp.connect(port);
    client = c.client;
    if (c.greeting?.code !== 220) return { code: c.greeting?.code ?? 0, line: c.greeting?.line ?? '' };
    for (const step of ['EHLO client.test', 'MAIL FROM:<load@client.test>', `RCPT TO:<${rcpt}>`, 'DATA']) {
      const r = await client.cmd(step);
      if (r.code >= 400) return { code: r.code, line: r.line };
    }
    client.write(`${raw}.\r\n`);
    const done = await client.read();
    return { code: done.code, line: done.line };
  } catch (err) {
    return { code: 0, line: String(err) };
  } finally {
    client?.close();
  }
}

/** Every file under the given directories whose name passes `keep`, with its text, keyed by the marker in its Message-ID. */
function copiesByMarker(
  places: ReadonlyArray<{ dir: string; keep: (name: string) => boolean }>,
): Map<string, string[]> {
  const byMarker = new Map<string, string[]>();
  for (const { dir, keep } of places) {
    for (const name of listDir(dir).filter(keep)) {
      const file = path.join(dir, name);
      const marker = /^Message-ID: <(m-[0-9a-z-]+)@client\.test>/m.exec(readFileSync(file, 'latin1'))?.[1];
      if (marker) byMarker.set(marker, [...(byMarker.get(marker) ?? []), file]);
    }
  }
  return byMarker;
}

describe('two MX instances, one killed with SIGKILL under load', () => {
  it('every 250 is on disk whole, in its one place; the survivor answers on and removes the dead one’s spool', async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const raw = {
      ...baseConfig({
        // 8 clients on one address, unknown ones among them: no per-IP limit is what this test is about
        server: { maxConnectionsPerIp: 0, maxUnknownRecipientsPerIp: 0 },
        domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: KNOWN }],
      }),
      state: { type: 'redis', url: redis.url, prefix: 'cg-kill:', timeout: '500ms' },
    };
    const { dir, configPath, dataDir } = writeConfig(raw);
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const start = async (id: 'mx-a' | 'mx-b'): Promise<ChildServer> => {
      // logs into a file: a pipe this busy test process drains late would slow the server under test
      const s = await spawnServer(
        configPath,
        { CATCHALL_GUARD_DATA_DIR: dataDir, CATCHALL_GUARD_INSTANCE_ID: id, ...SHORT_LEASE },
        { stdoutFile: path.join(dir, `${id}.log`) },
      );
      cleanup.push(async () => {
        s.proc.kill('SIGKILL');
        await s.exited;
      });
      return s;
    };
    const [a, b] = await Promise.all([start('mx-a'), start('mx-b')]);
    const pidA = a.proc.pid;
    if (pidA === undefined) throw new Error('mx-a has no pid');

    // one more session on mx-a stops in the middle of a large DATA, so the kill leaves a spool file
    const half = await RawSmtp.connect(a.port);
    cleanup.push(() => half.client.close());
    for (const step of ['EHLO client.test', 'MAIL FROM:<load@client.test>', 'RCPT TO:<alice@example.test>', 'DATA'])
      await half.client.cmd(step);
    const halfMarker = 'm-half-0-unfinished';
    half.client.write(message(halfMarker, 'alice@example.test', 0));
    const halfReply = half.client.read(30_000).then(
      (r) => r.line,
      (err: Error) => err.message,
    );
    const spoolA = path.join(dataDir, 'spool', 'mx-a');

    const t0 = Date.now();
    let killedAt = -1;
    let inFlightOnA = 0;
    const killer = (async () => {
      await new Promise((r) => setTimeout(r, KILL_AT_MS));
      const deadline = Date.now() + 5_000;
      // in the middle of the load: a spool file and sessions of the load open on mx-a
      while ((listFilesRecursive(spoolA).length === 0 || inFlightOnA < 2) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(listFilesRecursive(spoolA)).not.toEqual([]);
      expect(inFlightOnA).toBeGreaterThanOrEqual(2);
      process.kill(pidA, 'SIGKILL');
      killedAt = Date.now() - t0;
      await a.exited;
    })();
    const sent: Sent[] = [];
    const client = async (c: number): Promise<void> => {
      // the load goes on for LOAD_MS and at least a second past the kill, however late that came
      const more = (): boolean => killedAt < 0 || Date.now() - t0 < Math.max(LOAD_MS, killedAt + 1_000);
      for (let n = 0; more(); n++) {
        const marker = `m-${c}-${n}-${Math.random().toString(36).slice(2, 10)}`;
        const known = (c + n) % 3 !== 0;
        const rcpt = known ? `${KNOWN[n % KNOWN.length] ?? 'alice'}@example.test` : `ghost-${marker}@example.test`;
        // before the kill each client alternates between the instances; after it, all use the survivor
        const afterKill = killedAt >= 0;
        const instance = !afterKill && (c + n) % 2 === 0 ? 'mx-a' : 'mx-b';
        const text = message(marker, rcpt, n);
        if (instance === 'mx-a') inFlightOnA++;
        const r = await session(instance === 'mx-a' ? a.port : b.port, rcpt, text);
        if (instance === 'mx-a') inFlightOnA--;
        sent.push({ marker, rcpt, known, raw: text, instance, afterKill, code: r.code, line: r.line });
      }
    };
    await Promise.all([...Array.from({ length: CLIENTS }, (_v, c) => client(c)), killer]);
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await halfReply).toBe('connection closed without reply');

    // the survivor's sweep finds mx-a's lease left by a process that no longer exists, at its first look
    const gone = await b.waitForLine((l) => l['event'] === 'instance' && l['action'] === 'peer-gone', 10_000);
    expect(gone).toMatchObject({ id: 'mx-a', pid: pidA });
    expect(gone['spoolFiles']).toBeGreaterThanOrEqual(1);
    expect(existsSync(spoolA)).toBe(false);

    b.proc.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });

    const accepted = sent.filter((s) => s.code === 250);
    const before = accepted.filter((s) => !s.afterKill);
    const after = accepted.filter((s) => s.afterKill);
    const tempFail = sent.filter((s) => s.code >= 400 && s.code < 500);
    const noReply = sent.filter((s) => s.code === 0);
    const other = sent.filter((s) => s.code !== 250 && s.code !== 0 && !(s.code >= 400 && s.code < 500));
    console.log(
      `sessions ${sent.length}: 250 before the kill ${before.length} (mx-a ${before.filter((s) => s.instance === 'mx-a').length}), ` +
        `250 to sessions begun after it ${after.length}, 4xx ${tempFail.length}, no reply ${noReply.length}, other ${other.length}; ` +
        `mx-a killed at ${killedAt} ms; its spool held ${String(gone['spoolFiles'])} file(s) when the survivor removed it`,
    );
    // the load reached both instances before the kill, and the survivor went on answering after it
    expect(before.filter((s) => s.instance === 'mx-a').length).toBeGreaterThan(5);
    expect(before.filter((s) => s.instance === 'mx-b').length).toBeGreaterThan(5);
    expect(after.length).toBeGreaterThanOrEqual(20);
    // a message is answered 250, 4xx or not at all: nothing here is a permanent refusal
    expect(other.map((s) => s.line)).toEqual([]);
    // nothing the survivor was asked after the kill went unanswered
    expect(sent.filter((s) => s.instance === 'mx-b' && s.code !== 250).map((s) => s.line)).toEqual([]);

    const maildirs = KNOWN.map((m) => path.join(dataDir, 'mail', 'example.test', m, 'new'));
    const quarantine = path.join(dataDir, 'quarantine');
    const copies = copiesByMarker([
      ...maildirs.map((d) => ({ dir: d, keep: () => true })),
      { dir: quarantine, keep: (name: string) => name.endsWith('.eml') },
    ]);
    const wrong: string[] = [];
    for (const s of accepted) {
      const where = copies.get(s.marker) ?? [];
      const qid = /queued as ([A-Za-z0-9_-]+)/.exec(s.line)?.[1] ?? '';
      const expected = s.known
        ? path.join(dataDir, 'mail', 'example.test', s.rcpt.split('@')[0] ?? '', 'new')
        : path.join(quarantine, `${qid}.eml`);
      if (where.length !== 1) wrong.push(`${s.marker} (${s.instance}): ${where.length} copies`);
      else if (s.known ? path.dirname(where[0] ?? '') !== expected : where[0] !== expected)
        wrong.push(`${s.marker} (${s.instance}): at ${where[0] ?? ''}, expected ${expected}`);
      // whole: the stored copy ends with exactly what was sent (a Maildir copy has a Received line on top)
      else if (
        !readFileSync(where[0] ?? '', 'latin1')
          .replace(/\r?\n/g, '\r\n')
          .endsWith(s.raw)
      )
        wrong.push(`${s.marker} (${s.instance}): not whole in ${where[0] ?? ''}`);
    }
    expect(wrong).toEqual([]);
    // the message cut off in the middle of its DATA was never answered, and no part of it was delivered
    expect(copies.get(halfMarker)).toBeUndefined();
  }, 40_000);
});
