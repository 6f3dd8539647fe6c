// End to end through `dns.servers`: no test resolver is injected, so the notice outbox asks the real
// DNS server (dnsmasq) the configuration names — for the sender's SPF and for the direct MX — and, after
// a reload, the one the new configuration names.
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import type { Config } from '../../src/config/load.js';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { startDnsmasq, type DnsZone } from '../helpers/dnsmasq.js';
import { queuedId } from '../helpers/files.js';
import { captureEvents } from '../helpers/log-capture.js';
import { sendMessage } from '../helpers/smtp-client.js';
import { baseConfig, loadTestConfig, writeConfig } from '../helpers/start-app.js';
import { startSink } from '../helpers/upstream-sink.js';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { markedMessage, uniqueMarker } from './notice-app.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** The client is 127.0.0.1: `good.test` allows it, `forged.test` does not; both have an MX on loopback. */
const zone = (spfOfGood: string): DnsZone => ({
  txt: { 'good.test': [spfOfGood], 'forged.test': ['v=spf1 ip4:192.0.2.1 -all'] },
  mx: {
    'good.test': [{ exchange: 'mx.good.test', priority: 10 }],
    'forged.test': [{ exchange: 'mx.good.test', priority: 10 }],
  },
  a: { 'mx.good.test': ['127.0.0.1'] },
});

function site(servers: string[]): { configPath: string; dataDir: string; config: (s: string[]) => Config } {
  const raw = (s: string[]): Record<string, unknown> => ({
    ...baseConfig({
      domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
      notices: { enabled: true, requireSenderAuth: 'spf', transport: { type: 'direct' } },
    }),
    dns: { servers: s, timeout: '2s' },
  });
  const { dir, configPath, dataDir } = writeConfig(raw(servers));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return {
    configPath,
    dataDir,
    config: (s) => {
      const { configPath: p } = writeConfig(raw(s));
      cleanup.push(() => rmSync(path.dirname(p), { recursive: true, force: true }));
      return loadTestConfig(p, dataDir);
    },
  };
}

describe('notices through dns.servers', () => {
  it("SPF of the sender and the sender's MX are looked up at the configured server; a reload switches servers", async () => {
    const first = await startDnsmasq(zone('v=spf1 ip4:127.0.0.1 -all'));
    cleanup.push(() => first.stop());
    // the second server's zone no longer allows the client: what a reload to it changes is visible
    const second = await startDnsmasq(zone('v=spf1 -all'));
    cleanup.push(() => second.stop());
    const sink = await startSink();
    cleanup.push(() => sink.close());

    const s = site([first.server]);
    const events = captureEvents();
    const app = createApp(loadTestConfig(s.configPath, s.dataDir), {
      events: events.sink,
      noticeDirect: { port: sink.port, allowUnroutable: true },
    });
    const { port } = await app.start();
    cleanup.push(() => app.stop(2000));
    const entry = (qid: string): QuarantineEntry =>
      JSON.parse(readFileSync(path.join(s.dataDir, 'quarantine', `${qid}.json`), 'utf8')) as QuarantineEntry;
    const quarantine = async (from: string): Promise<string> => {
      const r = await sendMessage(port, {
        from,
        to: ['typo@example.test'],
        raw: markedMessage(uniqueMarker(), { from }),
      });
      expect(r.code).toBe(250);
      return queuedId(r.response);
    };

    const good = await quarantine('jane@good.test');
    expect(await events.waitFor('notice', (x) => x.qid === good)).toEqual({
      event: 'notice',
      qid: good,
      to: 'jane@good.test',
      status: 'sent',
      attempts: 1,
    });
    // what this suite is about is where the SPF answer came from; the rest of `auth` is the gate's business
    expect(entry(good).auth?.spf).toBe('pass');
    expect(sink.messages.map((m) => [m.from, m.to])).toEqual([['', ['jane@good.test']]]);

    const forged = await quarantine('jane@forged.test');
    expect(await events.waitFor('notice', (x) => x.qid === forged)).toEqual({
      event: 'notice',
      qid: forged,
      to: 'jane@forged.test',
      status: 'suppressed',
      reason: 'sender-auth-failed',
    });
    expect(entry(forged).auth?.spf).toBe('fail');
    // the answers came from the configured server, not from the system's resolvers
    expect(first.log()).toContain('query[TXT] good.test from 127.0.0.1');
    expect(first.log()).toContain('query[MX] good.test from 127.0.0.1');
    expect(first.log()).toContain('query[TXT] forged.test from 127.0.0.1');

    expect(app.reload(s.config([second.server]))).toEqual({ ok: true });
    const after = await quarantine('jane@good.test');
    expect(await events.waitFor('notice', (x) => x.qid === after)).toEqual({
      event: 'notice',
      qid: after,
      to: 'jane@good.test',
      status: 'suppressed',
      reason: 'sender-auth-failed',
    });
    expect(entry(after).auth?.spf).toBe('fail');
    expect(second.log()).toContain('query[TXT] good.test from 127.0.0.1');
    expect(sink.messages).toHaveLength(1);
  });
});
