// A worker killed mid-DATA leaves a half-received message in the spool; with `server.workers` each
// worker spools in a directory of its own (`<data>/spool/<instance>/worker-<n>`), and the primary
// empties it before the replacement starts, logging `worker` `spool-cleared`. The client of the dead
// worker was never told 250, so nothing it sent may be kept.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig } from '../helpers/start-app.js';
import { until } from '../helpers/until.js';
import { startCluster } from '../helpers/cluster-server.js';

beforeAll(() => buildDist(), 180_000);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('server.workers: a dead worker’s spool', () => {
  it('is emptied before its replacement starts; the other worker’s transfer is left alone', async () => {
    const { server, dataDir } = await startCluster(baseConfig({ server: { workers: 2 } }), cleanups);
    // one half-sent message on each worker: 200 KB is past what is held in memory, so it is a spool file
    const half = async (from: string): Promise<{ client: RawSmtp; worker: number }> => {
      const { client, greeting } = await RawSmtp.connect(server.port);
      expect(greeting?.code).toBe(220);
      expect((await client.cmd('EHLO client.test')).code).toBe(250);
      expect((await client.cmd(`MAIL FROM:<${from}>`)).code).toBe(250);
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write(`Subject: half\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(200));
      const l = await server.waitForLine((x) => x['event'] === 'rcpt' && x['from'] === from);
      return { client, worker: Number(l['worker']) };
    };
    const a = await half('a@client.test');
    const b = await half('b@client.test');
    expect(new Set([a.worker, b.worker])).toEqual(new Set([1, 2]));
    const spoolRoot = path.join(dataDir, 'spool');
    const [instance] = readdirSync(spoolRoot);
    const dirOf = (w: number): string => path.join(spoolRoot, instance ?? '', `worker-${w}`);
    await until('both spool files', () =>
      [1, 2].every((w) => existsSync(dirOf(w)) && readdirSync(dirOf(w)).length === 1),
    );

    const victim = server.lines.find(
      (l) => l['event'] === 'worker' && l['action'] === 'started' && l['id'] === a.worker,
    );
    const victimPid = Number(victim?.['pid']);
    process.kill(victimPid, 'SIGKILL');
    const cleared = await server.waitForLine(
      (l) => l['event'] === 'worker' && l['action'] === 'spool-cleared' && l['pid'] === victimPid,
    );
    expect(cleared).toMatchObject({ id: a.worker, spoolFiles: 1, worker: 0 });
    const replacement = await server.waitForLine(
      (l) => l['event'] === 'worker' && l['action'] === 'started' && l['replaces'] === victimPid,
    );
    // cleared first, then replaced
    expect(server.lines.indexOf(cleared)).toBeLessThan(server.lines.indexOf(replacement));
    expect(existsSync(dirOf(a.worker)) ? readdirSync(dirOf(a.worker)) : []).toEqual([]);
    // the live worker's transfer is untouched and still completes
    expect(readdirSync(dirOf(b.worker))).toHaveLength(1);
    b.client.write('.\r\n');
    expect((await b.client.read()).code).toBe(250);
    b.client.close();
    a.client.close();
    await until('the finished transfer leaves the spool', () => readdirSync(dirOf(b.worker)).length === 0);
  }, 60_000);
});
