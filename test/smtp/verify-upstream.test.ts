// verify.upstream (SPEC §3, §4) against a real smtp-server upstream on an ephemeral port: RCPT probes
// (MAIL FROM:<>, RCPT TO, RSET) on pooled connections, cached answers, 451 4.4.3 when it cannot tell,
// the harvest limits before the probe, the catch-all check, and the bound on probe connections.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkAddressWithUpstream } from '../../src/cli/check-upstream.js';
import { loadConfig } from '../../src/config/load.js';
import { closedPort } from '../helpers/upstream-sink.js';
import { startMailboxServer, type MailboxServer } from '../helpers/mailbox-server.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import {
  loadTestConfig,
  startApp,
  writeConfig,
  baseConfig,
  type RawConfig,
  type TestApp,
} from '../helpers/start-app.js';

const CATCH_ALL_PROBE = /^cg-probe-[0-9a-f]{16}@verify\.test$/;

function verifyConfig(port: number, over: { server?: object; domain?: object; timeout?: string } = {}): RawConfig {
  return {
    server: { maxConnectionsPerIp: 200, ...over.server },
    domains: [
      {
        name: 'verify.test',
        unknownRecipients: 'reject',
        recipients: ['listed'],
        verify: { upstream: true, positiveTtl: '1h', negativeTtl: '1h' },
        ...over.domain,
      },
    ],
    delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port, timeout: over.timeout ?? '5s' } },
  };
}

/** One RCPT in its own session: the reply line and the rcpt event it wrote. */
async function rcpt(t: TestApp, to: string, from = 'sender@client.test'): Promise<{ line: string; event: object }> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.begin(from);
    const line = (await client.cmd(`RCPT TO:<${to}>`)).line;
    const event = await t.events.waitFor('rcpt', (e) => e.rcpt === to.toLowerCase() && e.sid !== undefined);
    t.events.all.splice(t.events.all.indexOf(event), 1);
    return { line, event };
  } finally {
    client.close();
  }
}

/** The probes of real addresses (the catch-all check's made-up one left out). */
const realProbes = (up: MailboxServer): string[] => up.probes.filter((p) => !CATCH_ALL_PROBE.test(p));

let up: MailboxServer;
let t: TestApp | null = null;
beforeAll(async () => {
  up = await startMailboxServer(['jane@verify.test', 'bob@verify.test']);
});
afterEach(async () => {
  await t?.stop();
  t = null;
  up.mode = 'known';
  up.rcptDelayMs = 0;
  up.probes.length = 0;
});
afterAll(async () => {
  await up.close();
});

describe('verify.upstream on the wire', () => {
  it('a mailbox the upstream knows: 250, the message delivered there, and the second RCPT answered from the cache', async () => {
    t = await startApp(verifyConfig(up.port));
    const first = await rcpt(t, 'jane@verify.test');
    expect(first.line).toBe('250 2.1.5 Accepted');
    expect(first.event).toMatchObject({ decision: 'accept', code: 250, source: 'upstream' });
    expect(realProbes(up)).toEqual(['jane@verify.test']);
    // the catch-all check ran first, with a made-up local-part
    expect(up.probes.filter((p) => CATCH_ALL_PROBE.test(p))).toHaveLength(1);

    const sent = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['jane+news@verify.test'],
      raw: simpleMessage({ subject: 'verified' }),
    });
    expect(sent.ok).toBe(true);
    expect(up.messages.at(-1)?.to).toEqual(['jane+news@verify.test']);
    expect(up.messages.at(-1)?.raw.toString()).toContain('Subject: verified');
    // jane+news is the mailbox jane: answered from the cache, no second probe
    expect(realProbes(up)).toEqual(['jane@verify.test']);
    const again = await rcpt(t, 'JANE@verify.test');
    expect(again.event).toMatchObject({ decision: 'accept', source: 'cache' });
    expect(realProbes(up)).toEqual(['jane@verify.test']);
  });

  it('a mailbox the upstream does not know: the domain’s unknown treatment (550 5.1.1), cached too', async () => {
    t = await startApp(verifyConfig(up.port));
    const r = await rcpt(t, 'nobody@verify.test');
    expect(r.line).toBe('550 5.1.1 <nobody@verify.test>: recipient address rejected: user unknown');
    expect(r.event).toMatchObject({ decision: 'reject', code: 550, reason: 'user-unknown', source: 'upstream' });
    const again = await rcpt(t, 'nobody@verify.test');
    expect(again.event).toMatchObject({ decision: 'reject', source: 'cache' });
    expect(realProbes(up)).toEqual(['nobody@verify.test']);
  });

  it('the listed recipients are never asked about; postmaster neither', async () => {
    t = await startApp(verifyConfig(up.port));
    expect((await rcpt(t, 'listed@verify.test')).line).toBe('250 2.1.5 Accepted');
    expect((await rcpt(t, 'postmaster@verify.test')).line).toBe('250 2.1.5 Accepted');
    expect(realProbes(up)).toEqual([]);
  });

  it('the null sender reaches a mailbox only the upstream knows (a bounce must reach it)', async () => {
    t = await startApp(verifyConfig(up.port));
    const r = await rcpt(t, 'bob@verify.test', '');
    expect(r.line).toBe('250 2.1.5 Accepted');
    const unknown = await rcpt(t, 'ghost@verify.test', '');
    expect(unknown.event).toMatchObject({ decision: 'reject', reason: 'null-sender-unknown', source: 'upstream' });
  });

  it('a negative answer expires after negativeTtl: the next RCPT asks again', async () => {
    t = await startApp(verifyConfig(up.port, { domain: { verify: { upstream: true, negativeTtl: '300ms' } } }));
    expect((await rcpt(t, 'later@verify.test')).line).toMatch(/^550 5\.1\.1/);
    expect((await rcpt(t, 'later@verify.test')).event).toMatchObject({ source: 'cache' });
    up.mailboxes.add('later@verify.test');
    await new Promise((r) => setTimeout(r, 400));
    const r = await rcpt(t, 'later@verify.test');
    expect(r.line).toBe('250 2.1.5 Accepted');
    expect(r.event).toMatchObject({ source: 'upstream' });
    expect(realProbes(up)).toEqual(['later@verify.test', 'later@verify.test']);
  });

  it('the upstream answers 4xx: 451 4.4.3, never a guess, and nothing cached', async () => {
    t = await startApp(verifyConfig(up.port));
    // the catch-all check first, while the upstream still answers
    expect((await rcpt(t, 'bob@verify.test')).line).toBe('250 2.1.5 Accepted');
    up.mode = 'tempfail';
    const r = await rcpt(t, 'jane@verify.test');
    expect(r.line).toBe('451 4.4.3 cannot verify the recipient with the mailbox server now, try again later');
    expect(r.event).toMatchObject({
      decision: 'deferred',
      code: 451,
      reason: 'verify-upstream-unavailable',
      detail: 'RCPT answered 451 4.3.0 mailbox database busy',
    });
    up.mode = 'known';
    const after = await rcpt(t, 'jane@verify.test');
    expect(after.event).toMatchObject({ decision: 'accept', source: 'upstream' });
  });

  it('the upstream cannot be reached: 451 4.4.3, and an error event at start', async () => {
    t = await startApp(verifyConfig(await closedPort()));
    const r = await rcpt(t, 'jane@verify.test');
    expect(r.line).toMatch(/^451 4\.4\.3 /);
    expect(r.event).toMatchObject({ decision: 'deferred', reason: 'verify-upstream-unavailable' });
    // the catch-all check at start got no answer; it is sent again a minute on, not for every RCPT
    expect((r.event as { detail?: string }).detail).toMatch(
      /^not asked: the catch-all check got no answer \(cannot connect: ECONNREFUSED.*\); asked again from \d{4}-/,
    );
    const start = await t.events.waitFor('error', (e) => e.where === 'verify');
    expect(start).toMatchObject({ reason: 'verify-upstream-unavailable', domain: 'verify.test' });
  });

  it('an upstream that never answers RCPT: 451 4.4.3 within delivery.smtp.timeout', async () => {
    t = await startApp(verifyConfig(up.port, { timeout: '1s' }));
    await t.events.waitFor('listening');
    // let the catch-all check finish while RCPT is still answered
    await rcpt(t, 'jane@verify.test');
    up.mode = 'hang';
    const started = Date.now();
    const r = await rcpt(t, 'hanging@verify.test');
    const took = Date.now() - started;
    expect(r.line).toMatch(/^451 4\.4\.3 /);
    expect((r.event as { detail?: string }).detail).toMatch(/^timeout/);
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
  });
});

describe('verify.upstream and the harvest limits', () => {
  it('past maxUnknownRecipients a session gets its 421 without a probe', async () => {
    t = await startApp(verifyConfig(up.port, { server: { maxUnknownRecipients: 3 } }));
    const { client } = await RawSmtp.connect(t.port);
    await client.begin();
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await client.cmd(`RCPT TO:<guess${i}@verify.test>`).catch(() => null);
      if (!r) break;
      lines.push(r.line);
    }
    client.close();
    expect(lines.slice(0, 3).every((l) => l.startsWith('550 5.1.1'))).toBe(true);
    expect(lines[3]).toBe('421 4.7.0 too many unknown recipients, closing connection');
    expect(realProbes(up)).toEqual(['guess0@verify.test', 'guess1@verify.test', 'guess2@verify.test']);
  });

  it('a burst of 1,000 unknown RCPTs from one IP, 10 sessions at once, costs at most maxUnknownRecipientsPerIp probes', async () => {
    const perIp = 25;
    t = await startApp(
      verifyConfig(up.port, { server: { maxUnknownRecipients: 0, maxUnknownRecipientsPerIp: perIp } }),
    );
    const app = t;
    let attempts = 0;
    const session = async (s: number): Promise<void> => {
      // each session sends until it is told to go away (421, closed); once the budget is spent the
      // server refuses the connection itself, which counts as one attempt too
      while (attempts < 1000) {
        const { client, greeting } = await RawSmtp.connect(app.port);
        try {
          if (greeting?.code !== 220) {
            if (attempts < 1000) attempts++;
            continue;
          }
          await client.begin();
          for (;;) {
            // claimed before the await, so the sessions between them send exactly 1,000
            const n = ++attempts;
            if (n > 1000) {
              attempts--;
              return;
            }
            const r = await client.cmd(`RCPT TO:<h${s}-${n}@verify.test>`);
            if (r.code === 421) break;
          }
        } catch {
          // closed after its 421: the next connection
        } finally {
          client.close();
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, s) => session(s)));
    expect(attempts).toBe(1000);
    expect(realProbes(up).length).toBeLessThanOrEqual(perIp);
    expect(realProbes(up).length).toBeGreaterThanOrEqual(perIp - 1);
    // every RCPT past the budget got its 421 without a probe
    const limited = t.events.of('rcpt').filter((e) => e.reason === 'max-unknown-recipients-per-ip');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every((e) => e.source === undefined && e.code === 421)).toBe(true);
  }, 60_000);
});

describe('verify.upstream: a catch-all upstream', () => {
  it('accepting a made-up address turns verify off for the domain, with an error event; unknown is unknown again', async () => {
    up.mode = 'catch-all';
    t = await startApp(verifyConfig(up.port));
    const err = await t.events.waitFor('error', (e) => e.reason === 'verify-upstream-catch-all');
    expect(err).toMatchObject({ where: 'verify', domain: 'verify.test' });
    expect(err.error).toMatch(/^the upstream accepted cg-probe-[0-9a-f]{16}@verify\.test, an address nobody has/);
    const r = await rcpt(t, 'anything@verify.test');
    expect(r.line).toBe('550 5.1.1 <anything@verify.test>: recipient address rejected: user unknown');
    expect(r.event).not.toHaveProperty('source');
    expect(realProbes(up)).toEqual([]);
    // a reload asks again: the upstream now refuses unknown addresses, verification is back on
    up.mode = 'known';
    expect(t.app.reload(t.config)).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 300));
    expect((await rcpt(t, 'jane@verify.test')).event).toMatchObject({ decision: 'accept', source: 'upstream' });
  });
});

describe('verify.upstream: the bound on probe connections', () => {
  it('100 RCPTs at once (100 sessions, 100 addresses) open at most 3 connections to the upstream', async () => {
    // a server of its own: no connection left over from another test is counted
    const own = await startMailboxServer(['jane@verify.test']);
    t = await startApp(verifyConfig(own.port, { server: { maxUnknownRecipientsPerIp: 0, maxConnections: 500 } }));
    own.rcptDelayMs = 20;
    const app = t;
    const lines = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const { client } = await RawSmtp.connect(app.port);
        try {
          await client.begin();
          return (await client.cmd(`RCPT TO:<${i % 2 ? `p${i}` : 'jane'}@verify.test>`)).line;
        } finally {
          client.close();
        }
      }),
    );
    expect(lines.filter((l) => l === '250 2.1.5 Accepted')).toHaveLength(50);
    expect(lines.filter((l) => l.startsWith('550 5.1.1'))).toHaveLength(50);
    expect(own.connections.maxOpen).toBeLessThanOrEqual(3);
    expect(own.connections.total).toBeLessThanOrEqual(3);
    // 50 distinct unknown addresses, one probe for the 50 RCPTs to jane
    expect(realProbes(own)).toHaveLength(51);
    await t.stop();
    t = null;
    await own.close();
  }, 30_000);
});

describe('verify.upstream: configuration and check', () => {
  it('verify.upstream without SMTP delivery is a configuration error naming the key', () => {
    const { configPath, dataDir } = writeConfig(
      baseConfig({
        domains: [{ name: 'verify.test', verify: { upstream: true } }],
      }),
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'domains[0].verify.upstream: needs delivery.type smtp and delivery.smtp (the mailbox server to ask)',
    ]);
  });

  it('check ADDRESS asks the upstream and says so', async () => {
    const { configPath, dataDir } = writeConfig(baseConfig(verifyConfig(up.port)));
    const config = loadTestConfig(configPath, dataDir);
    const server = `127.0.0.1:${up.port}`;
    expect(await checkAddressWithUpstream(config, 'jane@verify.test')).toEqual({
      rule: null,
      upstream: `asked ${server} (MAIL FROM:<>, RCPT TO, RSET): the mailbox jane exists`,
      decision: 'accept',
      reply: '250 2.1.5 Accepted',
    });
    expect(await checkAddressWithUpstream(config, 'ghost@verify.test')).toEqual({
      rule: null,
      upstream: `asked ${server} (MAIL FROM:<>, RCPT TO, RSET): no such user`,
      decision: 'reject',
      reply: '550 5.1.1 <ghost@verify.test>: recipient address rejected: user unknown',
    });
    // the directory decides alone: no upstream line
    expect(await checkAddressWithUpstream(config, 'listed@verify.test')).toEqual({
      rule: null,
      decision: 'accept',
      reply: '250 2.1.5 Accepted',
    });
    up.mode = 'catch-all';
    expect((await checkAddressWithUpstream(config, 'ghost@verify.test')).upstream).toBe(
      `asked ${server} (MAIL FROM:<>, RCPT TO, RSET): it accepted a made-up address, so it accepts any address and verify.upstream is off for this domain`,
    );
  });
});
