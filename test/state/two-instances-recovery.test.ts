// Two MX instances (two processes of the built server) and one real redis-server: sessions opened on
// one instance while Redis was away count against maxConnectionsPerIp on the other as soon as Redis
// is back, without any new connect or close on the first (the replay of shares, src/state/fallback.ts).
import { rmSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { startRedis } from '../helpers/redis.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';

beforeAll(() => buildDist(), 240_000);

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const TOO_MANY_IP = '421 4.7.0 too many connections from your address, try again later';
const stateEvent = (ok: boolean) => (l: Record<string, unknown>) => l['event'] === 'state' && l['ok'] === ok;

describe('two MX instances, Redis back after an outage', () => {
  it('2 sessions opened on A while Redis was down: once Redis is back, B refuses a third (maxConnectionsPerIp 2) with no new connect on A', async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const { dir, configPath, dataDir } = writeConfig({
      // the held sessions must outlast the outage and the PINGs that notice its end
      ...baseConfig({ server: { maxConnectionsPerIp: 2, socketTimeout: '60s' } }),
      state: { type: 'redis', url: redis.url, prefix: 'cg-rec:', timeout: '500ms' },
    });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const start = async (id: string): Promise<ChildServer> => {
      const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir, CATCHALL_GUARD_INSTANCE_ID: id });
      cleanup.push(async () => {
        s.proc.kill('SIGTERM');
        await s.exited;
      });
      return s;
    };
    const [a, b] = await Promise.all([start('mx-a'), start('mx-b')]);

    await redis.stop();
    const held: RawSmtp[] = [];
    cleanup.push(() => held.forEach((c) => c.close()));
    for (let i = 0; i < 2; i++) {
      const { client, greeting } = await RawSmtp.connect(a.port);
      held.push(client);
      expect(greeting?.code).toBe(220);
    }
    // a session on B that ends during the outage makes B notice it too (else its PING every 5 s may miss it)
    const brief = await RawSmtp.connect(b.port);
    brief.client.close();
    expect(brief.greeting?.code).toBe(220);
    for (const s of [a, b])
      expect(await s.waitForLine(stateEvent(false))).toMatchObject({ reason: 'state-unreachable' });

    // Redis comes back empty: only the replay can tell it about A's two sessions
    await redis.restart();
    for (const s of [a, b]) expect(await s.waitForLine(stateEvent(true), 12_000)).toMatchObject({ ok: true });
    const third = await RawSmtp.connect(b.port);
    third.client.close();
    expect(third.greeting?.line).toBe(TOO_MANY_IP);
  }, 40_000);
});
