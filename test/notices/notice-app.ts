// Helpers for notice tests: an app whose config and data directory outlive it (so a second app can start
// on them, as after a restart), an offline DNS zone, and a message with a unique body marker.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createApp, type App, type AppDeps } from '../../src/app.js';
import type { Config } from '../../src/config/load.js';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import type { DnsResolver } from '../../src/sender-auth/dns.js';
import { captureEvents, type CapturedEvents } from '../helpers/log-capture.js';
import { baseConfig, loadTestConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';

export interface NoticeSite {
  readonly dir: string;
  readonly configPath: string;
  readonly dataDir: string;
  readonly config: Config;
  entry(qid: string): QuarantineEntry;
  remove(): void;
}

export interface RunningApp {
  readonly app: App;
  readonly port: number;
  readonly events: CapturedEvents;
  stop(): Promise<void>;
}

/** A config on disk: domain example.test quarantines unknown recipients; notices as given. */
export function noticeSite(notices: RawConfig, overrides: RawConfig = {}): NoticeSite {
  const raw = baseConfig({
    domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
    notices,
    ...overrides,
  });
  const { dir, configPath, dataDir } = writeConfig(raw);
  const config = loadTestConfig(configPath, dataDir);
  return {
    dir,
    configPath,
    dataDir,
    config,
    entry(qid) {
      return JSON.parse(readFileSync(path.join(dataDir, 'quarantine', `${qid}.json`), 'utf8')) as QuarantineEntry;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function runApp(site: NoticeSite, deps: Partial<Omit<AppDeps, 'events'>> = {}): Promise<RunningApp> {
  const events = captureEvents();
  const app = createApp(site.config, { events: events.sink, ...deps });
  const addr = await app.start();
  return { app, port: addr.port, events, stop: () => app.stop(2000) };
}

export function smarthost(port: number, extra: RawConfig = {}): RawConfig {
  return {
    enabled: true,
    requireSenderAuth: 'none',
    format: 'dsn',
    transport: { type: 'smtp', host: '127.0.0.1', port },
    ...extra,
  };
}

const dnsError = (code: string): Error => Object.assign(new Error(`${code} (fake)`), { code });

/** An offline zone: `'name TYPE'` → records, or an error code to throw (e.g. 'ESERVFAIL'). Absent → NXDOMAIN. */
export function fakeDns(zone: Record<string, unknown>): DnsResolver & { readonly queries: string[] } {
  const queries: string[] = [];
  const resolve = async (name: string, rrtype: string): Promise<unknown> => {
    queries.push(`${name} ${rrtype}`);
    const v = zone[`${name} ${rrtype}`];
    if (typeof v === 'string' && /^E[A-Z]+$/.test(v)) throw dnsError(v);
    if (v === undefined)
      throw dnsError(Object.keys(zone).some((k) => k.startsWith(`${name} `)) ? 'ENODATA' : 'ENOTFOUND');
    return v;
  };
  return Object.assign(resolve, { queries });
}

export function markedMessage(
  marker: string,
  opts: { subject?: string; messageId?: string; headers?: Record<string, string>; from?: string } = {},
): string {
  const extra = Object.entries(opts.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return (
    `From: Jane Sender <${opts.from ?? 'jane@client.test'}>\r\nTo: typo@example.test\r\nSubject: ${opts.subject ?? 'Repair order 4711'}\r\n` +
    `Message-ID: ${opts.messageId ?? `<${marker}@client.test>`}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n${extra}\r\n` +
    `Dear customer, your device serial ${marker} is ready. Home address: 1 Secret Lane.\r\n`
  );
}

let counter = 0;
export const uniqueMarker = (): string => `BODYMARKER${process.pid}x${Date.now().toString(36)}x${counter++}`;
