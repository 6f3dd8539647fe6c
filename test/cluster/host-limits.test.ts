// SPEC §4 with `server.workers: 2`: the limits that used to be counted by each worker alone count once
// for the host (#13). quarantine.maxSize: what one worker writes to the quarantine counts at once for
// the other (src/quarantine/usage.ts, shares in the primary's state store). verify.upstream's
// observe-mode probe allowance: one hourly count per IP in the same store (src/verify/probe-ledger.ts).
// The built CLI, a primary and two workers on one ephemeral port, connections handed out round-robin;
// which worker served a session is read from its `rcpt` line (`worker: 1|2`).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { startMailboxServer, type MailboxServer } from '../helpers/mailbox-server.js';
import { RawSmtp, sendVerbatim, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig } from '../helpers/start-app.js';
import { startCluster, workerOf } from '../helpers/cluster-server.js';

beforeAll(() => buildDist(), 180_000);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const QUARANTINE_FULL = '452 4.3.1 insufficient system storage: quarantine full, try again later';
const OBSERVE_SPENT = "not asked: this IP's observe-mode probe allowance (maxUnknownRecipientsPerIp an hour) is spent";
const CATCH_ALL_PROBE = /^cg-probe-[0-9a-f]{16}@verify\.test$/;

/** Bytes of the stored messages (`<qid>.eml`): what an entry adds to the count when it is committed. */
function storedMessageBytes(dataDir: string): { total: number; largest: number; count: number } {
  const dir = path.join(dataDir, 'quarantine');
  const sizes = readdirSync(dir)
    .filter((n) => n.endsWith('.eml'))
    .map((n) => statSync(path.join(dir, n)).size);
  return { total: sizes.reduce((a, b) => a + b, 0), largest: Math.max(0, ...sizes), count: sizes.length };
}

describe('server.workers: 2 — limits counted once for the host (#13)', () => {
  it('quarantine.maxSize: entries written by both workers fill one quota; past it both answer 452 4.3.1', async () => {
    const maxSize = 16 * 1024;
    const { server, dataDir } = await startCluster(
      baseConfig({
        server: { workers: 2, maxUnknownRecipientsPerIp: 0, maxUnknownRecipients: 0 },
        domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
        quarantine: { path: 'quarantine', retention: '14d', maxSize: '16KB' },
      }),
      cleanups,
      { stopWith: 'SIGTERM' },
    );
    const body = 'x'.repeat(2000);
    const sent: Array<{ from: string; code: number; response: string }> = [];
    // one session after the other: each RCPT is judged after the previous message is committed
    for (let i = 1; i <= 20; i++) {
      const from = `q${i}@client.test`;
      const r = await sendVerbatim(server.port, {
        from,
        to: [`nobody${i}@example.test`],
        raw: simpleMessage({ body, messageId: `<q${i}@client.test>` }),
      });
      sent.push({ from, code: r.code, response: r.response });
    }
    const workers = await Promise.all(sent.map(async (s) => ({ ...s, worker: await workerOf(server, s.from) })));
    const accepted = workers.filter((s) => s.code === 250);
    const refused = workers.filter((s) => s.code !== 250);
    // both workers wrote to the quarantine, and both refused once it was full
    expect(new Set(accepted.map((s) => s.worker))).toEqual(new Set([1, 2]));
    expect(new Set(refused.map((s) => s.worker))).toEqual(new Set([1, 2]));
    // once full, it stays full (no retention within the test): every later RCPT waits, on either worker
    const firstRefused = workers.findIndex((s) => s.code !== 250);
    expect(workers.slice(firstRefused).every((s) => s.response === QUARANTINE_FULL)).toBe(true);
    const stored = storedMessageBytes(dataDir);
    expect(stored.count).toBe(accepted.length);
    // the quota is met: at most one message past it (the one whose RCPT was judged just below it), where
    // two workers each counting only their own entries would have let in up to twice maxSize
    expect(stored.total).toBeGreaterThanOrEqual(maxSize);
    expect(stored.total).toBeLessThanOrEqual(maxSize + stored.largest);
    const deferred = server.lines.filter((l) => l['event'] === 'rcpt' && l['decision'] === 'deferred');
    expect(deferred.map((l) => l['reason'])).toEqual(refused.map(() => 'quarantine-full'));
    // each worker says once that it sees the quarantine full, with the bytes it judged from
    const quota = server.lines.filter((l) => l['event'] === 'quota' && l['full'] === true);
    expect(new Set(quota.map((l) => l['worker']))).toEqual(new Set([1, 2]));
    for (const q of quota) expect(Number(q['bytes'])).toBeGreaterThanOrEqual(maxSize);
  }, 90_000);

  describe('verify.upstream in observe mode', () => {
    let up: MailboxServer;
    beforeAll(async () => {
      up = await startMailboxServer(['listed@verify.test']);
    });
    afterAll(async () => {
      await up.close();
    });

    it('the per-IP probe allowance (maxUnknownRecipientsPerIp an hour) is spent once for both workers', async () => {
      const perIp = 4;
      const { server } = await startCluster(
        baseConfig({
          server: { workers: 2, maxUnknownRecipientsPerIp: perIp, maxUnknownRecipients: 50 },
          domains: [
            {
              name: 'verify.test',
              unknownRecipients: 'observe',
              observeMailbox: 'listed',
              recipients: ['listed'],
              verify: { upstream: true, positiveTtl: '1h', negativeTtl: '1h' },
            },
          ],
          delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: up.port, timeout: '5s' } },
        }),
        cleanups,
        { stopWith: 'SIGTERM' },
      );
      // both workers asked the upstream whether it takes any address: the domain verifies on each
      await waitUntil('both catch-all checks', () => up.probes.filter((p) => CATCH_ALL_PROBE.test(p)).length >= 2);
      const lines: Array<{ from: string; line: string }> = [];
      for (let i = 1; i <= 12; i++) {
        const from = `o${i}@client.test`;
        const { client, greeting } = await RawSmtp.connect(server.port);
        try {
          expect(greeting?.code).toBe(220);
          await client.begin(from);
          lines.push({ from, line: (await client.cmd(`RCPT TO:<made-up${i}@verify.test>`)).line });
        } finally {
          client.close();
        }
      }
      // observe mode: every made-up address is accepted, asked or not
      expect(lines.map((l) => l.line)).toEqual(lines.map(() => '250 2.1.5 Accepted'));
      const realProbes = up.probes.filter((p) => !CATCH_ALL_PROBE.test(p));
      // one allowance for the host: two workers each counting their own would have asked 2 × perIp times
      expect(realProbes).toEqual([1, 2, 3, 4].map((i) => `made-up${i}@verify.test`));
      const rcpts = await Promise.all(
        lines.map((l) => server.waitForLine((x) => x['event'] === 'rcpt' && x['from'] === l.from)),
      );
      expect(rcpts.every((l) => l['decision'] === 'observe')).toBe(true);
      const asked = rcpts.filter((l) => l['source'] === 'upstream');
      const unasked = rcpts.filter((l) => l['detail'] === OBSERVE_SPENT);
      expect([asked.length, unasked.length]).toEqual([perIp, 12 - perIp]);
      // both workers probed, and both found the allowance spent
      expect(new Set(asked.map((l) => l['worker']))).toEqual(new Set([1, 2]));
      expect(new Set(unasked.map((l) => l['worker']))).toEqual(new Set([1, 2]));
    }, 90_000);
  });
});

async function waitUntil(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
