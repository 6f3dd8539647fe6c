// doctor's verify.upstream line: a made-up address asked of a real smtp-server upstream, and the
// ✔/✘ line each answer gives (a catch-all upstream is ✘: the server turns verification off).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctorChecks, doctorFailed, formatChecks } from '../../src/doctor/checks.js';
import type { DoctorFacts, VerifyFacts } from '../../src/doctor/facts.js';
import { gatherVerifyFacts } from '../../src/doctor/gather-verify.js';
import { startMailboxServer, type MailboxServer } from '../helpers/mailbox-server.js';
import { baseConfig, loadTestConfig, writeConfig } from '../helpers/start-app.js';
import { closedPort } from '../helpers/upstream-sink.js';

let up: MailboxServer;
beforeAll(async () => {
  up = await startMailboxServer(['jane@verify.test']);
});
afterAll(async () => {
  await up.close();
});

function config(port: number) {
  const { configPath, dataDir } = writeConfig(
    baseConfig({
      domains: [
        { name: 'verify.test', verify: { upstream: true } },
        { name: 'plain.test', recipients: ['a'] },
      ],
      delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port, timeout: '2s' } },
    }),
  );
  return loadTestConfig(configPath, dataDir);
}

/** Only the verify lines of doctor's output, the DNS checks left out. */
function verifyLines(verify: readonly VerifyFacts[]): { lines: string[]; failed: boolean } {
  const facts = {
    hostname: 'mx.owner.test',
    ip: null,
    publicIps: [],
    domains: [],
    hostA: { ok: false, code: 'ENOTFOUND' },
    hostAAAA: { ok: false, code: 'ENOTFOUND' },
    reverse: [],
    heloSpf: { domain: 'mx.owner.test', txt: { ok: false, code: 'ENOTFOUND' }, results: [] },
    fromDomains: [],
    requireSenderAuth: 'spf',
    verify,
  } satisfies DoctorFacts;
  const results = doctorChecks(facts).filter((r) => r.text.startsWith('verify.upstream'));
  return { lines: formatChecks(results).slice(0, -1), failed: doctorFailed(results) };
}

describe('doctor: verify.upstream', () => {
  it('an upstream that refuses the made-up address: ✔', async () => {
    up.mode = 'known';
    const facts = await gatherVerifyFacts(config(up.port));
    expect(facts).toHaveLength(1);
    const probe = facts[0]?.probe ?? '';
    expect(probe).toMatch(/^cg-probe-[0-9a-f]{16}@verify\.test$/);
    expect(verifyLines(facts)).toEqual({
      lines: [
        `✔ verify.upstream of verify.test (127.0.0.1:${up.port}) refuses the made-up address ${probe}: 550 5.1.1 no such user here`,
      ],
      failed: false,
    });
  });

  it('a catch-all upstream: ✘, and what to do', async () => {
    up.mode = 'catch-all';
    const facts = await gatherVerifyFacts(config(up.port));
    const probe = facts[0]?.probe ?? '';
    expect(verifyLines(facts)).toEqual({
      lines: [
        `✘ verify.upstream of verify.test (127.0.0.1:${up.port}) accepts the made-up address ${probe} (250 Accepted): it is a catch-all, so the server turns verify.upstream off for verify.test — make the mailbox server refuse unknown recipients at RCPT, or set under the domain verify.test:`,
        '      verify: { upstream: false }',
      ],
      failed: true,
    });
  });

  it('an upstream that cannot be reached: ✘ naming the 451 4.4.3 it causes', async () => {
    const port = await closedPort();
    const facts = await gatherVerifyFacts(config(port));
    expect(facts[0]).toMatchObject({ answer: 'unavailable' });
    const { lines, failed } = verifyLines(facts);
    expect(failed).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^✘ verify\\.upstream of verify\\.test \\(127\\.0\\.0\\.1:${port}\\) did not answer a probe \\(cannot connect: ECONNREFUSED\\): unknown recipients of verify\\.test get 451 4\\.4\\.3$`,
      ),
    );
  });

  it('without verify.upstream there is no such line', async () => {
    const { configPath, dataDir } = writeConfig(baseConfig({}));
    expect(await gatherVerifyFacts(loadTestConfig(configPath, dataDir))).toEqual([]);
  });
});
