// verify.upstream and the harvest limits (#12 review): a RCPT the upstream was not asked about never
// meets the domain's mode; an unverifiable unknown counts toward the budgets; a failing upstream is
// not asked per RCPT; observe mode has a per-IP probe allowance. Real sockets, a real smtp-server
// upstream on an ephemeral port.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMailboxServer, type MailboxServer } from '../helpers/mailbox-server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { captureEvents } from '../helpers/log-capture.js';
import {
  baseConfig,
  loadTestConfig,
  startApp,
  writeConfig,
  type RawConfig,
  type TestApp,
} from '../helpers/start-app.js';
import { buildVerifyBackend } from '../../src/verify/backend.js';
import { createVerifier, type Verifier, type VerifyBackend } from '../../src/verify/verifier.js';

const CATCH_ALL_PROBE = /^cg-probe-[0-9a-f]{16}@verify\.test$/;
const HARVEST_IP = '421 4.7.0 too many unknown recipients from your address, try again later';
const CANNOT_VERIFY = '451 4.4.3 cannot verify the recipient with the mailbox server now, try again later';

function verifyConfig(port: number, over: { server?: object; domain?: object } = {}): RawConfig {
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
    delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port, timeout: '5s' } },
  };
}

/** One RCPT in its own session: the reply line (null: the connection was refused or closed). */
async function rcptLine(port: number, to: string): Promise<string | null> {
  const { client, greeting } = await RawSmtp.connect(port);
  try {
    if (greeting?.code !== 220) return null;
    await client.begin();
    return (await client.cmd(`RCPT TO:<${to}>`)).line;
  } catch {
    return null;
  } finally {
    client.close();
  }
}

const realProbes = (up: MailboxServer): string[] => up.probes.filter((p) => !CATCH_ALL_PROBE.test(p));
const catchAllProbes = (up: MailboxServer): string[] => up.probes.filter((p) => CATCH_ALL_PROBE.test(p));

let up: MailboxServer;
let t: TestApp | null = null;
beforeAll(async () => {
  up = await startMailboxServer(['alice@verify.test', 'bob@verify.test', 'real@verify.test']);
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

describe('a RCPT the upstream was not asked about never gets the domain’s mode', () => {
  it('a real mailbox while another probe from the same IP is under way: the 421 of the limit, never 550 5.1.1', async () => {
    t = await startApp(verifyConfig(up.port, { server: { maxUnknownRecipientsPerIp: 3 } }));
    await t.events.waitFor('listening');
    up.rcptDelayMs = 1500;
    // two unknown answers: the IP has 2 of its 3
    expect(await rcptLine(t.port, 'nobody1@verify.test')).toMatch(/^550 5\.1\.1 /);
    expect(await rcptLine(t.port, 'nobody2@verify.test')).toMatch(/^550 5\.1\.1 /);
    const app = t;
    const guess = rcptLine(app.port, 'nobody7@verify.test');
    // nobody7's probe is under way (1.5 s) when bob is asked for
    await new Promise((r) => setTimeout(r, 300));
    const bob = await rcptLine(app.port, 'bob@verify.test');
    expect(await guess).toMatch(/^550 5\.1\.1 /);
    expect(bob).toBe(HARVEST_IP);
    const event = app.events.of('rcpt').find((e) => e.rcpt === 'bob@verify.test');
    expect(event).toMatchObject({ decision: 'limited', code: 421, reason: 'max-unknown-recipients-per-ip' });
    expect(event?.detail).toMatch(/^not asked: /);
    expect(realProbes(up)).toEqual(['nobody1@verify.test', 'nobody2@verify.test', 'nobody7@verify.test']);
    // no RCPT was ever answered by the mode without the upstream's word
    const guessed = app.events.of('rcpt').filter((e) => e.decision === 'reject' && e.source === undefined);
    expect(guessed).toEqual([]);
  }, 20_000);
});

describe('an upstream that cannot tell: the budgets count, and it is not asked per RCPT', () => {
  it('upstream 4xx from the start: 500 RCPTs get at most maxUnknownRecipientsPerIp 451s, then 421; one catch-all probe', async () => {
    up.mode = 'tempfail';
    const perIp = 20;
    t = await startApp(verifyConfig(up.port, { server: { maxUnknownRecipientsPerIp: perIp } }));
    await t.events.waitFor('error', (e) => e.where === 'verify');
    const lines: (string | null)[] = [];
    for (let i = 0; i < 500; i++)
      lines.push(await rcptLine(t.port, `r${i}-${Math.random().toString(36).slice(2)}@verify.test`));
    expect(lines.filter((l) => l === CANNOT_VERIFY)).toHaveLength(perIp);
    expect(lines.slice(0, perIp).every((l) => l === CANNOT_VERIFY)).toBe(true);
    // past the budget: the connection itself is refused with the limit's 421
    expect(lines.slice(perIp).every((l) => l === null)).toBe(true);
    const refused = t.events.of('connect').filter((e) => e.reason === 'max-unknown-recipients-per-ip');
    expect(refused).toHaveLength(500 - perIp);
    // the catch-all check that could not conclude is not asked again within its back-off
    expect(catchAllProbes(up)).toHaveLength(1);
    expect(realProbes(up)).toEqual([]);
    const deferred = t.events.of('rcpt').filter((e) => e.reason === 'verify-upstream-unavailable');
    expect(deferred[0]?.detail).toMatch(/^not asked: the catch-all check got no answer/);
  }, 60_000);

  it('upstream 4xx after the catch-all check: a few probes, then 451 without one; the session budget counts them', async () => {
    t = await startApp(verifyConfig(up.port, { server: { maxUnknownRecipients: 30, maxUnknownRecipientsPerIp: 0 } }));
    expect(await rcptLine(t.port, 'alice@verify.test')).toBe('250 2.1.5 Accepted');
    up.mode = 'tempfail';
    const { client } = await RawSmtp.connect(t.port);
    const lines: string[] = [];
    try {
      await client.begin();
      for (let i = 0; i < 40; i++) {
        const r = await client.cmd(`RCPT TO:<g${i}@verify.test>`).catch(() => null);
        if (!r) break;
        lines.push(r.line);
      }
    } finally {
      client.close();
    }
    expect(lines.slice(0, 30).every((l) => l === CANNOT_VERIFY)).toBe(true);
    expect(lines[30]).toBe('421 4.7.0 too many unknown recipients, closing connection');
    expect(lines).toHaveLength(31);
    // the upstream was asked until it had failed 5 in a row, then left alone
    expect(realProbes(up)).toEqual(['alice@verify.test', ...Array.from({ length: 5 }, (_, i) => `g${i}@verify.test`)]);
    const paused = t.events.of('rcpt').filter((e) => String(e.detail).startsWith('not asked: the upstream'));
    expect(paused).toHaveLength(25);
  }, 30_000);
});

describe('observe mode: a per-IP probe allowance', () => {
  it('300 RCPTs to made-up addresses cost at most maxUnknownRecipientsPerIp probes, and every one is observed', async () => {
    const perIp = 20;
    t = await startApp(
      verifyConfig(up.port, {
        server: { maxUnknownRecipientsPerIp: perIp, maxUnknownRecipients: 3 },
        domain: { unknownRecipients: 'observe', observeMailbox: 'listed' },
      }),
    );
    const app = t;
    const lines: string[] = [];
    // 10 sessions at once, 30 RCPTs each (in transactions of 10)
    await Promise.all(
      Array.from({ length: 10 }, async (_, s) => {
        const { client } = await RawSmtp.connect(app.port);
        try {
          for (let tx = 0; tx < 3; tx++) {
            await client.begin();
            for (let i = 0; i < 10; i++) lines.push((await client.cmd(`RCPT TO:<o${s}-${tx}-${i}@verify.test>`)).line);
            await client.cmd('RSET');
          }
        } finally {
          client.close();
        }
      }),
    );
    expect(lines).toHaveLength(300);
    expect(lines.every((l) => l === '250 2.1.5 Accepted')).toBe(true);
    expect(realProbes(up).length).toBeLessThanOrEqual(perIp);
    expect(realProbes(up).length).toBeGreaterThan(0);
    const events = app.events.of('rcpt');
    expect(events.filter((e) => e.decision === 'observe')).toHaveLength(300);
    expect(events.filter((e) => e.source === 'upstream')).toHaveLength(realProbes(up).length);
    expect(events.filter((e) => String(e.detail).startsWith('not asked: '))).toHaveLength(300 - realProbes(up).length);
  }, 30_000);
});

describe('the verifier leaves a failing upstream alone (a real upstream, the clock injected)', () => {
  let backend: VerifyBackend | null = null;
  afterEach(async () => {
    await backend?.close();
    backend = null;
  });
  function verifierAt(clock: { now: number }): { verifier: Verifier; events: ReturnType<typeof captureEvents> } {
    const { configPath, dataDir } = writeConfig(baseConfig(verifyConfig(up.port)));
    const config = loadTestConfig(configPath, dataDir);
    backend = buildVerifyBackend(config);
    if (backend === null) throw new Error('no verify backend for a verifying domain');
    const events = captureEvents();
    return { verifier: createVerifier(config.domains, backend, events.sink, { now: () => clock.now }), events };
  }
  const ask = (v: Verifier, localPart: string) => v.verify('verify.test', localPart, { mayProbe: true });

  it('5 probes in a row without an answer: 451 without a probe for 10 s, then probes again', async () => {
    const clock = { now: 1_000_000 };
    const { verifier, events } = verifierAt(clock);
    await verifier.checkCatchAll();
    up.mode = 'tempfail';
    for (let i = 0; i < 5; i++)
      expect(await ask(verifier, `f${i}`)).toEqual({
        kind: 'unavailable',
        detail: 'RCPT answered 451 4.3.0 mailbox database busy',
      });
    const paused = await ask(verifier, 'f5');
    expect(paused).toEqual({
      kind: 'unavailable',
      notAsked: true,
      detail:
        'not asked: the upstream failed 5 probes in a row (RCPT answered 451 4.3.0 mailbox database busy); asked again from 1970-01-01T00:16:50.000Z',
    });
    expect(realProbes(up)).toHaveLength(5);
    expect(events.of('error')).toMatchObject([{ where: 'verify', reason: 'verify-upstream-unavailable' }]);
    clock.now += 9_999;
    expect(await ask(verifier, 'f6')).toMatchObject({ notAsked: true });
    expect(realProbes(up)).toHaveLength(5);
    // the pause is over: one probe; it fails too, so the upstream is left alone again at once
    clock.now += 1;
    expect(await ask(verifier, 'f7')).toEqual({
      kind: 'unavailable',
      detail: 'RCPT answered 451 4.3.0 mailbox database busy',
    });
    expect(await ask(verifier, 'f8')).toMatchObject({ notAsked: true });
    expect(realProbes(up)).toHaveLength(6);
    // an answer ends the streak
    up.mode = 'known';
    clock.now += 10_000;
    expect(await ask(verifier, 'bob')).toEqual({ kind: 'exists', mailbox: 'bob', source: 'upstream' });
    expect(await ask(verifier, 'f9')).toEqual({ kind: 'no-such-user', source: 'upstream' });
    expect(realProbes(up)).toHaveLength(8);
  });

  it('a catch-all check without an answer is sent again a minute on, not for every RCPT', async () => {
    const clock = { now: 1_000_000 };
    up.mode = 'tempfail';
    const { verifier } = verifierAt(clock);
    await verifier.checkCatchAll();
    expect(catchAllProbes(up)).toHaveLength(1);
    for (let i = 0; i < 10; i++)
      expect(await ask(verifier, `c${i}`)).toMatchObject({
        kind: 'unavailable',
        notAsked: true,
        detail: expect.stringMatching(
          /^not asked: the catch-all check got no answer \(RCPT answered 451 4\.3\.0 /,
        ) as string,
      });
    clock.now += 59_999;
    await ask(verifier, 'c10');
    expect(catchAllProbes(up)).toHaveLength(1);
    up.mode = 'known';
    clock.now += 1;
    expect(await ask(verifier, 'bob')).toEqual({ kind: 'exists', mailbox: 'bob', source: 'upstream' });
    expect(catchAllProbes(up)).toHaveLength(2);
    expect(verifier.status('verify.test')).toBe('on');
    expect(realProbes(up)).toEqual(['bob@verify.test']);
  });
});
