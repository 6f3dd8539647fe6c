// `report` per address (#12): for each address an address rule decided for, the rule, the sender
// domains seen, the leak signals (`sender-not-allowed` counts) and a suggested next step. The log comes
// from the real server: RCPTs over a socket, the JSON lines its logger wrote, read by the built CLI.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suggestNextStep, type AddressSummary } from '../../src/report/addresses.js';
import { createReportAggregator, type ReportSummary } from '../../src/report/aggregate.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli } from '../helpers/cli.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

let t: TestApp;
let dir: string;
let logFile: string;

/** One session per sender: MAIL FROM, then the RCPTs; the replies in order. */
async function rcpts(from: string, to: readonly string[]): Promise<string[]> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.begin(from);
    const lines: string[] = [];
    for (const a of to) lines.push((await client.cmd(`RCPT TO:<${a}>`)).line);
    return lines;
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  await buildDist();
  t = await startApp({
    server: { maxUnknownRecipients: 0, maxUnknownRecipientsPerIp: 0 },
    domains: [
      {
        name: 'example.test',
        unknownRecipients: 'reject',
        recipients: ['alice', 'shop-*'],
        addresses: [
          { address: 'hp-repair', from: ['hp.example', '*.hp.example'] },
          { address: 'shop-old', action: 'reject' },
          { address: 'jane', action: 'moved', to: 'jane@new.example' },
          { address: 'leak-*', action: 'quarantine' },
        ],
      },
    ],
  });
  expect(await rcpts('service@hp.example', ['hp-repair@example.test', 'hp-repair@example.test'])).toEqual([
    '250 2.1.5 Accepted',
    '250 2.1.5 Accepted',
  ]);
  expect(await rcpts('parts@eu.hp.example', ['hp-repair@example.test'])).toEqual(['250 2.1.5 Accepted']);
  // the leak: a sender the binding does not name, twice from one domain, once from another
  expect(await rcpts('deals@spam.example', ['hp-repair@example.test', 'hp-repair@example.test'])).toEqual([
    '550 5.1.1 <hp-repair@example.test>: recipient address rejected: user unknown',
    '550 5.1.1 <hp-repair@example.test>: recipient address rejected: user unknown',
  ]);
  expect(await rcpts('x@broker.example', ['hp-repair@example.test'])).toEqual([
    '550 5.1.1 <hp-repair@example.test>: recipient address rejected: user unknown',
  ]);
  expect(
    await rcpts('orders@shop.example', ['shop-old@example.test', 'jane@example.test', 'nobody@example.test']),
  ).toEqual([
    '550 5.1.1 <shop-old@example.test>: recipient address rejected: user unknown',
    '551 5.1.6 <jane@example.test>: user has moved; please try <jane@new.example>',
    '550 5.1.1 <nobody@example.test>: recipient address rejected: user unknown',
  ]);
  expect(await rcpts('a@list.example', ['leak-2024-a-very-long-tag-someone-used-for-one-shop@example.test'])).toEqual([
    '250 2.1.5 Accepted',
  ]);
  await t.events.waitFor('rcpt', (e) => e.rcpt.startsWith('leak-'));
  dir = mkdtempSync(path.join(tmpdir(), 'cg-report-addresses-'));
  logFile = path.join(dir, 'guard.log');
  writeFileSync(logFile, `${t.events.lines.join('\n')}\n`);
}, 180_000);

afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('report per address', () => {
  it('the server logs the rule that decided with every rcpt event', () => {
    const leak = t.events.of('rcpt').find((e) => e.from === 'deals@spam.example');
    expect(leak).toMatchObject({
      rcpt: 'hp-repair@example.test',
      decision: 'reject',
      reason: 'sender-not-allowed',
      rule: 'hp-repair',
      ruleAction: 'accept',
    });
    const unknown = t.events.of('rcpt').find((e) => e.rcpt === 'nobody@example.test');
    expect(unknown).not.toHaveProperty('rule');
  });

  it('--json: each ruled address with its rule, senders, leak signals and next step; unknown recipients apart', async () => {
    const r = await runCli(['report', '--log', logFile, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as ReportSummary;
    // only the address no rule knows is an unknown recipient
    expect(s.recipients.map((x) => x.rcpt)).toEqual(['nobody@example.test']);
    const byAddress = new Map(s.addresses.map((a) => [a.address, a]));
    expect(s.addresses.map((a) => a.address)).toEqual([
      'hp-repair@example.test',
      'jane@example.test',
      'leak-2024-a-very-long-tag-someone-used-for-one-shop@example.test',
      'shop-old@example.test',
    ]);
    expect(byAddress.get('hp-repair@example.test')).toMatchObject({
      rule: 'hp-repair (accept)',
      action: 'accept',
      count: 6,
      decisions: { accept: 3, reject: 3 },
      senderDomains: [
        { domain: 'hp.example', count: 2 },
        { domain: 'spam.example', count: 2 },
        { domain: 'broker.example', count: 1 },
      ],
      senderNotAllowed: 3,
      notAllowedDomains: [
        { domain: 'spam.example', count: 2 },
        { domain: 'broker.example', count: 1 },
      ],
      next: 'possible leak: 3 RCPTs from senders outside its from (spam.example 2, broker.example 1); if spam.example is a partner add it to from, otherwise retire the address (action: reject)',
    });
    expect(byAddress.get('shop-old@example.test')).toMatchObject({
      rule: 'shop-old (reject)',
      count: 1,
      decisions: { reject: 1 },
      senderNotAllowed: 0,
      next: 'keep the rule: senders still try the retired address (shop.example 1)',
    });
    expect(byAddress.get('jane@example.test')).toMatchObject({ rule: 'jane (moved)', decisions: { moved: 1 } });
    expect(byAddress.get('leak-2024-a-very-long-tag-someone-used-for-one-shop@example.test')).toMatchObject({
      rule: 'leak-* (quarantine)',
      decisions: { quarantine: 1 },
    });
  });

  it('human output: the unknown recipients, then the ruled addresses whole, then one next step per address', async () => {
    const r = await runCli(['report', '--log', logFile]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    const part = out.slice(out.indexOf('4 addresses decided by an address rule'));
    const long = 'leak-2024-a-very-long-tag-someone-used-for-one-shop@example.test';
    const pad = (s: string): string => s.padEnd(long.length);
    expect(part).toBe(
      [
        '4 addresses decided by an address rule, 1 with leak signals (senders outside its from):',
        `${pad('ADDRESS')}  RULE                 RCPT  NOT ALLOWED  LAST SEEN   SENDER DOMAINS`,
        `${pad('hp-repair@example.test')}  hp-repair (accept)      6            3  ${day()}  hp.example 2`,
        `${' '.repeat(long.length + 54)}spam.example 2`,
        `${' '.repeat(long.length + 54)}broker.example 1`,
        `${pad('jane@example.test')}  jane (moved)            1            0  ${day()}  shop.example 1`,
        `${long}  leak-* (quarantine)     1            0  ${day()}  list.example 1`,
        `${pad('shop-old@example.test')}  shop-old (reject)       1            0  ${day()}  shop.example 1`,
        '',
        'next steps:',
        '  hp-repair@example.test: possible leak: 3 RCPTs from senders outside its from (spam.example 2, broker.example 1); if spam.example is a partner add it to from, otherwise retire the address (action: reject)',
        '  jane@example.test: keep the rule while senders still use the old address (shop.example 1); tell them the new one',
        `  ${long}: review its quarantined mail (list.example 1): if none is wanted, retire the address (action: reject)`,
        '  shop-old@example.test: keep the rule: senders still try the retired address (shop.example 1)',
        '',
      ].join('\n'),
    );
    // the unknown-recipient report comes first, unchanged
    expect(out.startsWith('1 unknown recipient in 1 RCPT event')).toBe(true);
  });
});

/** Today (UTC), as the LAST SEEN column writes it: the log was written by this run. */
function day(): string {
  return new Date().toISOString().slice(0, 10);
}

describe('report per address, from older lines and by table', () => {
  it('lines that carry only the reason still count (address-retired, address-moved, address-paused, sender-not-allowed)', () => {
    const a = createReportAggregator();
    const line = (rcpt: string, from: string, decision: string, reason: string): string =>
      JSON.stringify({
        time: '2026-11-20T10:00:00.000Z',
        event: 'rcpt',
        sid: 's',
        from,
        rcpt,
        decision,
        code: 550,
        reason,
      });
    a.addLine(line('old@example.test', 'x@a.example', 'reject', 'address-retired'));
    a.addLine(line('press@example.test', 'x@a.example', 'deferred', 'address-paused'));
    a.addLine(line('bound@example.test', 'x@b.example', 'quarantine', 'sender-not-allowed'));
    a.addLine(line('nobody@example.test', 'x@a.example', 'reject', 'user-unknown'));
    const s = a.summary();
    expect(s.unknownRecipients).toBe(1);
    expect(s.addresses.map((x) => [x.address, x.rule, x.senderNotAllowed])).toEqual([
      ['bound@example.test', '(accept)', 1],
      ['old@example.test', '(reject)', 0],
      ['press@example.test', '(defer)', 0],
    ]);
  });

  const base = (
    over: Partial<Pick<AddressSummary, 'action' | 'senderNotAllowed' | 'notAllowedDomains'>>,
  ): Pick<AddressSummary, 'action' | 'count' | 'senderDomains' | 'senderNotAllowed' | 'notAllowedDomains'> => ({
    action: 'accept',
    count: 3,
    senderDomains: [{ domain: 'shop.example', count: 3 }],
    senderNotAllowed: 0,
    notAllowedDomains: [],
    ...over,
  });
  it.each<[string, ReturnType<typeof base>, string]>([
    ['a binding kept', base({}), 'none: only the allowed senders wrote to it'],
    [
      'a binding missed once',
      base({ senderNotAllowed: 1, notAllowedDomains: [{ domain: 'x.example', count: 1 }] }),
      'possible leak: 1 RCPT from senders outside its from (x.example 1); if x.example is a partner add it to from, otherwise retire the address (action: reject)',
    ],
    ['retired', base({ action: 'reject' }), 'keep the rule: senders still try the retired address (shop.example 3)'],
    [
      'moved',
      base({ action: 'moved' }),
      'keep the rule while senders still use the old address (shop.example 3); tell them the new one',
    ],
    [
      'paused',
      base({ action: 'defer' }),
      'paused: senders retry until their queue gives up (often 5 days), then bounce; lift the pause or retire the address',
    ],
    [
      'caught',
      base({ action: 'quarantine' }),
      'review its quarantined mail (shop.example 3): if none is wanted, retire the address (action: reject)',
    ],
  ])('%s', (_label, s, next) => {
    expect(suggestNextStep(s)).toBe(next);
  });
});
