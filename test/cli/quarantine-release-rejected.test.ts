// `quarantine release` of a reject-after-data record (kind: rejected): it holds the headers only
// whatever quarantine.storeBody says, and the refusal names that reason, not storeBody (walkthrough #11).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { runCli } from '../helpers/cli.js';
import { sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

let t: TestApp;
beforeAll(async () => {
  await buildDist();
  t = await startApp({
    domains: [{ name: 'example.test', unknownRecipients: 'reject-after-data', recipients: ['alice'] }],
    quarantine: { path: 'quarantine', retention: '14d', storeBody: true },
  });
}, 200_000);
afterAll(async () => {
  await t.stop();
});

describe('quarantine release of a reject-after-data record', () => {
  it('exit 1 naming reject-after-data (storeBody was true), the record kept', async () => {
    const r = await sendMessage(t.port, {
      from: 'orders@shop.example',
      to: ['jane.doe@example.test'],
      raw: simpleMessage(),
    });
    expect(r).toMatchObject({ ok: false, code: 550 });
    const { qid } = await t.events.waitFor('message', (m) => m.outcome === 'rejected');
    expect(qid).toEqual(expect.any(String));
    const id = String(qid);
    const release = await runCli(
      ['quarantine', 'release', id, '--to', 'alice@example.test', '--config', t.configPath],
      { env: { CATCHALL_GUARD_DATA_DIR: t.dataDir } },
    );
    expect({ code: release.code, stdout: release.stdout, stderr: release.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr:
        `catchall-guard: entry ${id} holds the headers only (a message rejected after DATA (reject-after-data): ` +
        'its sender got 550 5.1.1, nothing else was kept): there is no message to release\n',
    });
    expect(existsSync(path.join(t.dataDir, 'quarantine', `${id}.json`))).toBe(true);
  });
});
