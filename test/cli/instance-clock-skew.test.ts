// Instances on one data volume whose clocks disagree (#15): a peer whose wall clock runs two minutes
// ahead (a preload that shifts Date.now, as a host with a wrong clock or a forward jump would) must not
// take a live instance for gone, remove its spool and fail the message it is receiving. A process of
// this host that really exited is found gone at the next look.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig } from '../helpers/start-app.js';
import { until } from '../helpers/until.js';

beforeAll(() => buildDist());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

describe('instances whose clocks disagree (child processes)', () => {
  it('a peer whose clock runs 120 s ahead leaves a live instance’s spool alone and its message gets 250; once that instance’s process exits, the peer finds it gone at once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-skew-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dataDir = path.join(dir, 'data');
    const config = path.join(dir, 'config.yaml');
    writeFileSync(
      config,
      stringify(
        baseConfig({ domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }] }),
      ),
    );
    const skew = path.join(dir, 'skew.mjs');
    writeFileSync(skew, 'const real = Date.now;\nDate.now = () => real() + 120_000;\n');
    // a short lease period (test only): six silent renewals, 1.2 s, would make a peer gone
    const env = { CATCHALL_GUARD_DATA_DIR: dataDir, CATCHALL_GUARD_TEST_LEASE_RENEW_MS: '200' };
    const spawn = async (id: string, extra: Record<string, string> = {}): Promise<ChildServer> => {
      const child = await spawnServer(config, { ...env, CATCHALL_GUARD_INSTANCE_ID: id, ...extra });
      cleanups.push(async () => {
        child.proc.kill('SIGKILL');
        await child.exited;
      });
      return child;
    };

    const a = await spawn('mx-a');
    const { client } = await RawSmtp.connect(a.port);
    cleanups.push(() => client.close());
    await client.begin('s@client.test');
    expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    // past the 64 KiB kept in memory: the message goes to a spool file
    client.write(`Subject: slow\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(2000));
    await until('the spool file', () => files(path.join(dataDir, 'spool', 'mx-a')).length === 1);

    const b = await spawn('mx-b', { NODE_OPTIONS: `--import ${skew}` });
    const started = await b.waitForLine((l) => l['event'] === 'instance' && l['action'] === 'started');
    // B's clock really runs ahead: its log time stamps say so
    expect(Date.parse(String(started['time'])) - Date.now()).toBeGreaterThan(100_000);
    // five dead periods of B's watching: A renews all along, so it stays live
    await new Promise((r) => setTimeout(r, 6_000));
    expect(b.lines.filter((l) => l['event'] === 'instance' && l['action'] === 'peer-gone')).toEqual([]);
    expect(files(path.join(dataDir, 'spool', 'mx-a'))).toHaveLength(1);
    client.write('\r\n.\r\n');
    const done = await client.read();
    expect(done.code).toBe(250);

    // A's process ends without a stop: same host, same pid namespace, its pid gone
    await client.cmd('QUIT').catch(() => undefined);
    a.proc.kill('SIGKILL');
    await a.exited;
    const gone = await b.waitForLine((l) => l['event'] === 'instance' && l['action'] === 'peer-gone', 5_000);
    expect(gone).toMatchObject({ id: 'mx-a', host: hostname(), pid: a.proc.pid, lease: 'exited' });
  }, 60_000);
});
