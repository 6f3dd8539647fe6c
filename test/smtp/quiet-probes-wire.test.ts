// Health probes over loopback are logged at debug, but only probes (#15): a loopback session that
// sends anything beyond EHLO, HELO, NOOP, RSET and QUIT (MAIL, VRFY, EXPN, AUTH, STARTTLS, an unknown
// command) uses the server and is logged at info like any client. Real sockets, the app's real log.
import { afterEach, describe, expect, it } from 'vitest';
import { commandVerb, QUIET_COMMANDS } from '../../src/smtp/wire-compat.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

const running: TestApp[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop();
});

interface Line {
  readonly level: number;
  readonly event: string;
  readonly sid?: string;
}

/** The info (or higher) lines the log got for one session. */
function infoLines(t: TestApp, sid: string): string[] {
  return t.events.lines
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.sid === sid && l.level >= 30)
    .map((l) => l.event);
}

/** One loopback session sending `commands` one by one, then QUIT; resolves with its sid once closed. */
async function session(t: TestApp, commands: readonly string[]): Promise<string> {
  const before = new Set(t.events.of('connect').map((e) => e.sid));
  const { client } = await RawSmtp.connect(t.port);
  for (const c of commands) await client.cmd(c);
  await client.cmd('QUIT');
  await client.closed;
  const sid = (await t.events.waitFor('connect', (e) => !before.has(e.sid))).sid;
  await t.events.waitFor('close', (e) => e.sid === sid);
  return sid;
}

describe('loopback sessions in the info log', () => {
  it.each([
    ['the health probe: greeting, QUIT', [], []],
    ['a connectivity check: EHLO, NOOP, RSET, QUIT', ['EHLO probe.test', 'NOOP', 'RSET'], []],
    ['a HELO only', ['HELO probe.test'], []],
  ] as const)('%s → nothing at info', async (_what, commands, expected) => {
    const t = await startApp();
    running.push(t);
    const sid = await session(t, commands);
    expect(infoLines(t, sid)).toEqual(expected);
  });

  it.each([
    [
      'MAIL FROM, VRFY, EXPN, RSET, a second MAIL',
      ['EHLO c.test', 'MAIL FROM:<a@c.test>', 'VRFY alice', 'EXPN staff', 'RSET', 'MAIL FROM:<b@c.test>'],
      'MAIL',
    ],
    ['VRFY only', ['EHLO c.test', 'VRFY alice'], 'VRFY'],
    ['EXPN only', ['EHLO c.test', 'EXPN staff'], 'EXPN'],
    ['AUTH (not offered)', ['EHLO c.test', 'AUTH PLAIN AGFsaWNlAHNlY3JldA=='], 'AUTH'],
    ['STARTTLS (not offered)', ['EHLO c.test', 'STARTTLS'], 'STARTTLS'],
    ['an unknown command', ['EHLO c.test', 'XYZZY now'], 'XYZZY'],
  ] as const)('%s → connect and close at info', async (_what, commands, verb) => {
    const t = await startApp();
    running.push(t);
    const sid = await session(t, commands);
    expect(infoLines(t, sid)).toEqual(['connect', 'close']);
    // the signal, once per session, carrying the verb only
    expect(t.events.of('command').filter((e) => e.sid === sid)).toEqual([{ event: 'command', sid, command: verb }]);
  });
});

describe('commandVerb: what the command signal carries of a client line', () => {
  it.each([
    ['MAIL FROM:<a@b.test>', 'MAIL'],
    ['vrfy alice', 'VRFY'],
    ['STARTTLS', 'STARTTLS'],
    ['', 'UNKNOWN'],
    ['GET / HTTP/1.1', 'GET'],
    ['\u0007\u0000junk', 'UNKNOWN'],
    ['A'.repeat(17), 'UNKNOWN'],
  ] as const)('%j → %s', (line, verb) => {
    expect(commandVerb(line)).toBe(verb);
  });

  it('only a greeting, NOOP, RSET and QUIT keep a session quiet', () => {
    expect([...QUIET_COMMANDS].sort()).toEqual(['EHLO', 'HELO', 'NOOP', 'QUIT', 'RSET']);
  });
});
