// The app on 127.0.0.1:0 with a temp config dir and data dir; real sockets, real files.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createApp, type App, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { captureEvents, type CapturedEvents } from './log-capture.js';

export interface TestApp {
  readonly app: App;
  readonly port: number;
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  readonly config: Config;
  readonly events: CapturedEvents;
  stop(): Promise<void>;
}

/** A plain object in the YAML's shape; merged over a small base config. */
export type RawConfig = Record<string, unknown>;

export function baseConfig(overrides: RawConfig = {}): RawConfig {
  return {
    server: {
      hostname: 'mx.test.invalid',
      listen: { host: '127.0.0.1', port: 0 },
      greetDelay: 0,
      socketTimeout: '10s',
      ...(overrides['server'] as object | undefined),
    },
    domains: overrides['domains'] ?? [
      { name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'bob', 'shop-*'] },
    ],
    delivery: overrides['delivery'] ?? { type: 'maildir', maildir: { path: 'mail' } },
    quarantine: overrides['quarantine'] ?? { path: 'quarantine', retention: '14d' },
    notices: overrides['notices'] ?? { enabled: false },
    ...(overrides['http'] ? { http: overrides['http'] } : {}),
  };
}

export function writeConfig(
  raw: RawConfig,
  files: Record<string, string> = {},
): { dir: string; configPath: string; dataDir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-test-'));
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(raw));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return { dir, configPath, dataDir: path.join(dir, 'data') };
}

export function loadTestConfig(configPath: string, dataDir: string): Config {
  const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
  if (!r.ok) throw new Error(`test config invalid: ${JSON.stringify(r.issues)}`);
  return r.config;
}

export async function startApp(
  overrides: RawConfig = {},
  opts: { files?: Record<string, string>; deps?: Partial<AppDeps> } = {},
): Promise<TestApp> {
  const { dir, configPath, dataDir } = writeConfig(baseConfig(overrides), opts.files);
  const config = loadTestConfig(configPath, dataDir);
  const events = captureEvents();
  const app = createApp(config, { events: events.sink, ...opts.deps });
  const addr = await app.start();
  return {
    app,
    port: addr.port,
    dir,
    dataDir,
    configPath,
    config,
    events,
    async stop() {
      await app.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
