// Operating the process: HTTP endpoints and metrics, SIGTERM drain, SIGHUP reload.
import { readdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { spawnServer } from '../helpers/child-server.js';
import { buildDist } from '../helpers/build-dist.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';

beforeAll(() => buildDist());

describe('HTTP endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ http: { listen: { host: '127.0.0.1', port: 0 } } });
  });
  afterAll(() => t.stop());
  const url = (p: string): string => `http://127.0.0.1:${t.app.httpAddress()?.port}${p}`;

  it('/healthz and /readyz answer 200, other paths 404', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    expect((await fetch(url('/readyz'))).status).toBe(200);
    expect((await fetch(url('/nope'))).status).toBe(404);
  });

  it('/metrics counts RCPT decisions and messages after traffic', async () => {
    const before = await (await fetch(url('/metrics'))).text();
    expect(before).toContain('\ncatchall_guard_rcpt_total{decision="reject"} 0\n');
    expect(before).toContain('process_cpu_user_seconds_total');
    const { client } = await RawSmtp.connect(t.port);
    await client.begin();
    expect((await client.cmd('RCPT TO:<nobody@example.test>')).code).toBe(550);
    client.close();
    expect(
      (await sendMessage(t.port, { from: 's@client.test', to: ['alice@example.test'], raw: simpleMessage() })).code,
    ).toBe(250);
    const after = await (await fetch(url('/metrics'))).text();
    // whole lines: `… 1` must not match a 10 or 12
    expect(after).toContain('\ncatchall_guard_rcpt_total{decision="reject"} 1\n');
    expect(after).toContain('\ncatchall_guard_rcpt_total{decision="accept"} 1\n');
    expect(after).toContain('\ncatchall_guard_messages_total{outcome="stored"} 1\n');
    expect(after).toContain('\ncatchall_guard_transaction_duration_seconds_count 1\n');
    expect(after).toContain('\ncatchall_guard_connections_total{result="accepted"} 2\n');
  });
});

describe('signals (child process)', () => {
  it('SIGTERM during a slow DATA: that transaction completes, new sessions get 421 4.3.2, exit 0', async () => {
    const { dir, configPath, dataDir } = writeConfig(baseConfig());
    const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
    try {
      const { client } = await RawSmtp.connect(s.port);
      await client.begin();
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write('Subject: slow\r\nMessage-ID: <slow@client.test>\r\n\r\nfirst half\r\n');
      s.proc.kill('SIGTERM');
      await s.waitForLine((l) => l['event'] === 'shutdown' && l['phase'] === 'draining');
      const late = await RawSmtp.connect(s.port);
      expect(late.greeting?.line).toBe('421 4.3.2 server shutting down, try again later');
      late.client.close();
      client.write('second half\r\n.\r\n');
      const final = await client.read();
      expect(final.line).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
      client.close();
      const { code } = await s.exited;
      expect(code).toBe(0);
      expect(readdirSync(path.join(dataDir, 'mail/example.test/alice/new'))).toHaveLength(1);
      expect(s.lines.some((l) => l['event'] === 'shutdown' && l['phase'] === 'done')).toBe(true);
    } finally {
      s.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second SIGTERM while draining exits at once (code 1), without waiting for the transaction', async () => {
    const { dir, configPath, dataDir } = writeConfig(baseConfig());
    const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
    try {
      const { client } = await RawSmtp.connect(s.port);
      await client.begin();
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write('Subject: never finished\r\n\r\npart\r\n');
      s.proc.kill('SIGTERM');
      await s.waitForLine((l) => l['event'] === 'shutdown' && l['phase'] === 'draining');
      const started = Date.now();
      s.proc.kill('SIGTERM');
      expect((await s.exited).code).toBe(1);
      expect(Date.now() - started).toBeLessThan(5000);
      client.close();
    } finally {
      s.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGTERM with only idle sessions: they get 421 4.3.2 and the process exits 0 at once', async () => {
    const { dir, configPath, dataDir } = writeConfig(baseConfig());
    const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
    try {
      const { client } = await RawSmtp.connect(s.port);
      expect((await client.cmd('EHLO client.test')).code).toBe(250);
      const started = Date.now();
      s.proc.kill('SIGTERM');
      expect((await client.read()).line).toBe('421 4.3.2 server shutting down, try again later');
      expect((await s.exited).code).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      s.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGHUP: a valid new config is applied; an invalid one is refused and the old one stays', async () => {
    const raw = baseConfig();
    const { dir, configPath, dataDir } = writeConfig(raw);
    const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
    const rcpt = async (addr: string): Promise<string> => {
      const { client } = await RawSmtp.connect(s.port);
      await client.begin();
      const r = (await client.cmd(`RCPT TO:<${addr}>`)).line;
      client.close();
      return r;
    };
    try {
      expect(await rcpt('dave@example.test')).toBe(
        '550 5.1.1 <dave@example.test>: recipient address rejected: user unknown',
      );
      writeFileSync(
        configPath,
        stringify({
          ...raw,
          domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'dave'] }],
        }),
      );
      s.proc.kill('SIGHUP');
      await s.waitForLine((l) => l['event'] === 'reload' && l['ok'] === true && l['what'] === 'config');
      expect(await rcpt('dave@example.test')).toBe('250 2.1.5 Accepted');

      writeFileSync(
        configPath,
        stringify({ ...raw, domains: [{ name: 'example.test', unknownRecipients: 'bounce' }] }),
      );
      const hupAt = Date.now();
      s.proc.kill('SIGHUP');
      const bad = await s.waitForLine((l) => l['event'] === 'reload' && l['ok'] === false);
      const loggedAt = Date.parse(String(bad['time']));
      expect(loggedAt).toBeGreaterThanOrEqual(hupAt);
      expect(loggedAt).toBeLessThanOrEqual(Date.now());
      expect(bad).toEqual({
        level: 'error',
        time: new Date(loggedAt).toISOString(),
        event: 'reload',
        ok: false,
        // as the Logs table says, a refused configuration reload is `what: config` too (grep-able)
        what: 'config',
        error: 'domains[0].unknownRecipients: expected one of reject, reject-after-data, quarantine, observe',
      });
      expect(await rcpt('dave@example.test')).toBe('250 2.1.5 Accepted');
      s.proc.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
    } finally {
      s.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
