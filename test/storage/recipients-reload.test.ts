// SPEC §3: the recipients file is reloaded when it changes, over the running app; a version that
// cannot be read keeps the previous entries and logs a failed `reload`.
import { renameSync, rmSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

async function rcptCode(address: string): Promise<number> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.begin();
    return (await client.cmd(`RCPT TO:<${address}>`)).code;
  } finally {
    client.close();
  }
}

/** Polls RCPT until it gets `code`, up to WAIT_MS; returns the last code seen. */
async function waitForRcpt(address: string, code: number): Promise<number> {
  const deadline = Date.now() + WAIT_MS;
  let last = await rcptCode(address);
  while (last !== code && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await rcptCode(address);
  }
  return last;
}

function reloadsSoFar(): number {
  return t.events.of('reload').length;
}

/** The next `reload` event after `since` events that matches. */
async function nextReload(
  since: number,
  ok: boolean,
): Promise<{ ok: boolean; error?: string; domain?: string; entries?: number }> {
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
    expect(await rcptCode('carol@example.test')).toBe(250);
    expect(await rcptCode('alice@example.test')).toBe(250);
    expect(await rcptCode('dave@example.test')).toBe(550);
  });

  it('an address appended to the file is accepted within a bounded wait, with a reload ok:true event', async () => {
    const since = reloadsSoFar();
    appendFileSync(file, 'dave\n');
    expect(await waitForRcpt('dave@example.test', 250)).toBe(250);
    const e = await nextReload(since, true);
    expect(e).toMatchObject({ ok: true, domain: 'example.test', entries: 2 });
    expect(await rcptCode('carol@example.test')).toBe(250);
  });

  it('a file replaced by rename (write tmp + rename) is picked up', async () => {
    const since = reloadsSoFar();
    const tmp = path.join(t.dir, `.${FILE}.tmp`);
    writeFileSync(tmp, 'carol\r\ndave\r\nErin@Example.test # full address, CRLF\r\n');
    renameSync(tmp, file);
    expect(await waitForRcpt('erin@example.test', 250)).toBe(250);
    expect(await nextReload(since, true)).toMatchObject({ ok: true, domain: 'example.test', entries: 3 });
  });

  it('removing an address from the file takes effect', async () => {
    const since = reloadsSoFar();
    writeFileSync(file, 'carol\nerin\n');
    expect(await waitForRcpt('dave@example.test', 550)).toBe(550);
    await nextReload(since, true);
    expect(await rcptCode('erin@example.test')).toBe(250);
  });

  it('a deleted file keeps the previous set and logs reload ok:false', async () => {
    const since = reloadsSoFar();
    rmSync(file);
    const e = await nextReload(since, false);
    expect(e.error).toMatch(/ENOENT/);
    expect(e.error).toContain(FILE);
    expect(await rcptCode('carol@example.test')).toBe(250);
    expect(await rcptCode('erin@example.test')).toBe(250);
    expect(await rcptCode('alice@example.test')).toBe(250);
    // still a decision, not a 451: the old set is in force
    expect(await rcptCode('zed@example.test')).toBe(550);
  });

  it('a file that cannot be read (replaced by a directory) keeps the previous set too', async () => {
    const since = reloadsSoFar();
    mkdirSync(file);
    const e = await nextReload(since, false);
    expect(e.error).toMatch(/EISDIR/);
    expect(await rcptCode('erin@example.test')).toBe(250);
    rmSync(file, { recursive: true });
  });

  it('restoring the file works again', async () => {
    const since = reloadsSoFar();
    writeFileSync(file, 'carol\nfrank\n');
    expect(await waitForRcpt('frank@example.test', 250)).toBe(250);
    expect(await nextReload(since, true)).toMatchObject({ ok: true, entries: 2 });
    // the restored file is the whole truth: erin is gone
    expect(await rcptCode('erin@example.test')).toBe(550);
    expect(await rcptCode('carol@example.test')).toBe(250);
  });
});
