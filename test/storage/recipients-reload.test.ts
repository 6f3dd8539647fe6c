// SPEC §3: the recipients file is reloaded when it changes, over the running app; a version that
// cannot be read keeps the previous entries and logs a failed `reload`.
import { renameSync, rmSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/observability/events.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

const FILE = 'example.test.recipients';
const WAIT_MS = 10_000;

let t: TestApp;
let file: string;

beforeAll(async () => {
  t = await startApp(
    {
      domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'], recipientsFile: FILE }],
      // polling asks about unknown addresses many times: keep the harvest limits out of the way
      server: { maxUnknownRecipients: 100_000, maxUnknownRecipientsPerIp: 100_000, maxConnectionsPerIp: 1000 },
    },
    { files: { [FILE]: '# initial list\ncarol\n' } },
  );
  file = path.join(t.dir, FILE);
});
afterAll(() => t.stop());

const ACCEPTED = '250 2.1.5 Accepted';
const unknown = (address: string): string => `550 5.1.1 <${address}>: recipient address rejected: user unknown`;

/** The reply line to one RCPT in a session of its own. */
async function rcptReply(address: string): Promise<string> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.begin();
    return (await client.cmd(`RCPT TO:<${address}>`)).line;
  } finally {
    client.close();
  }
}

/** Polls RCPT until it gets `line`, up to WAIT_MS; returns the last line seen. */
async function waitForRcpt(address: string, line: string): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let last = await rcptReply(address);
  while (last !== line && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await rcptReply(address);
  }
  return last;
}

function reloadsSoFar(): number {
  return t.events.of('reload').length;
}

/** The next `reload` event after `since` events that matches. */
async function nextReload(since: number, ok: boolean): Promise<Extract<LogEvent, { event: 'reload' }>> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const e = t.events
      .of('reload')
      .slice(since)
      .find((x) => x.ok === ok);
    if (e) return e;
    if (Date.now() > deadline)
      throw new Error(
        `no reload event with ok:${String(ok)} within ${WAIT_MS} ms; saw ${JSON.stringify(t.events.of('reload'))}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('recipients file hot reload', () => {
  it('starts with the entries of the file and the listed ones', async () => {
    expect(await rcptReply('carol@example.test')).toBe(ACCEPTED);
    expect(await rcptReply('alice@example.test')).toBe(ACCEPTED);
    expect(await rcptReply('dave@example.test')).toBe(unknown('dave@example.test'));
  });

  it('an address appended to the file is accepted within a bounded wait, with a reload ok:true event', async () => {
    const since = reloadsSoFar();
    appendFileSync(file, 'dave\n');
    expect(await waitForRcpt('dave@example.test', ACCEPTED)).toBe(ACCEPTED);
    const e = await nextReload(since, true);
    expect(e).toEqual({ event: 'reload', ok: true, what: 'recipientsFile', domain: 'example.test', entries: 2 });
    expect(await rcptReply('carol@example.test')).toBe(ACCEPTED);
  });

  it('a file replaced by rename (write tmp + rename) is picked up', async () => {
    const since = reloadsSoFar();
    const tmp = path.join(t.dir, `.${FILE}.tmp`);
    writeFileSync(tmp, 'carol\r\ndave\r\nErin@Example.test # full address, CRLF\r\n');
    renameSync(tmp, file);
    expect(await waitForRcpt('erin@example.test', ACCEPTED)).toBe(ACCEPTED);
    expect(await nextReload(since, true)).toEqual({
      event: 'reload',
      ok: true,
      what: 'recipientsFile',
      domain: 'example.test',
      entries: 3,
    });
  });

  it('removing an address from the file takes effect', async () => {
    const since = reloadsSoFar();
    writeFileSync(file, 'carol\nerin\n');
    expect(await waitForRcpt('dave@example.test', unknown('dave@example.test'))).toBe(unknown('dave@example.test'));
    expect(await nextReload(since, true)).toEqual({
      event: 'reload',
      ok: true,
      what: 'recipientsFile',
      domain: 'example.test',
      entries: 2,
    });
    expect(await rcptReply('erin@example.test')).toBe(ACCEPTED);
  });

  it('a deleted file keeps the previous set and logs reload ok:false', async () => {
    const since = reloadsSoFar();
    rmSync(file);
    const e = await nextReload(since, false);
    expect(e).toEqual({
      event: 'reload',
      ok: false,
      what: 'recipientsFile',
      domain: 'example.test',
      error: `${file}: ENOENT`,
    });
    expect(await rcptReply('carol@example.test')).toBe(ACCEPTED);
    expect(await rcptReply('erin@example.test')).toBe(ACCEPTED);
    expect(await rcptReply('alice@example.test')).toBe(ACCEPTED);
    // still a decision, not a 451: the old set is in force
    expect(await rcptReply('zed@example.test')).toBe(unknown('zed@example.test'));
  });

  it('a file that cannot be read (replaced by a directory) keeps the previous set too', async () => {
    const since = reloadsSoFar();
    mkdirSync(file);
    const e = await nextReload(since, false);
    expect(e).toEqual({
      event: 'reload',
      ok: false,
      what: 'recipientsFile',
      domain: 'example.test',
      error: `${file}: EISDIR`,
    });
    expect(await rcptReply('erin@example.test')).toBe(ACCEPTED);
    rmSync(file, { recursive: true });
  });

  it('restoring the file works again', async () => {
    const since = reloadsSoFar();
    writeFileSync(file, 'carol\nfrank\n');
    expect(await waitForRcpt('frank@example.test', ACCEPTED)).toBe(ACCEPTED);
    expect(await nextReload(since, true)).toEqual({
      event: 'reload',
      ok: true,
      what: 'recipientsFile',
      domain: 'example.test',
      entries: 2,
    });
    // the restored file is the whole truth: erin is gone
    expect(await rcptReply('erin@example.test')).toBe(unknown('erin@example.test'));
    expect(await rcptReply('carol@example.test')).toBe(ACCEPTED);
  });
});
