// Which keys a SIGHUP reload names as needing a restart (the reload event's restartNeeded).
import { describe, expect, it } from 'vitest';
import { restartNeeded } from '../../src/app/restart-needed.js';
import type { Config } from '../../src/config/load.js';
import { baseConfig, loadTestConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';

function config(raw: RawConfig, dataDir = '/srv/data'): Config {
  const { configPath } = writeConfig(raw, { 'cert.pem': 'x', 'key.pem': 'x' });
  return loadTestConfig(configPath, dataDir);
}

const running = config(baseConfig({ server: { hostname: 'mx.a.test', listen: { host: '127.0.0.1', port: 2525 } } }));

describe('restartNeeded', () => {
  it.each([
    ['nothing changed', {}, '/srv/data', []],
    ['a limit changed (applied by the reload)', { server: { maxConnections: 7 } }, '/srv/data', []],
    ['the port', { server: { listen: { host: '127.0.0.1', port: 25 } } }, '/srv/data', ['server.listen']],
    ['the host', { server: { listen: { host: '0.0.0.0', port: 2525 } } }, '/srv/data', ['server.listen']],
    ['the banner name', { server: { hostname: 'mx.b.test' } }, '/srv/data', ['server.hostname']],
    ['socketTimeout', { server: { socketTimeout: '11s' } }, '/srv/data', ['server.socketTimeout']],
    ['disableReverseLookup', { server: { disableReverseLookup: false } }, '/srv/data', ['server.disableReverseLookup']],
    ['TLS turned on', { server: { tls: { key: 'key.pem', cert: 'cert.pem' } } }, '/srv/data', ['server.tls']],
    ['http turned on', { http: { listen: { port: 9026 } } }, '/srv/data', ['http.listen']],
    ['the data directory', {}, '/srv/other', ['dataDir']],
    ['log.file turned on', { log: { file: { path: 'log/guard.log' } } }, '/srv/data', ['log.file']],
    ['log.level (applied by serve)', { log: { level: 'warn' } }, '/srv/data', []],
    [
      'several at once, in a fixed order',
      { server: { hostname: 'mx.b.test', listen: { host: '127.0.0.1', port: 25 } }, http: { listen: { port: 1 } } },
      '/srv/data',
      ['server.listen', 'server.hostname', 'http.listen'],
    ],
  ] as const)('%s → %j', (_what, change, dataDir, expected) => {
    const raw = baseConfig({
      ...change,
      server: {
        hostname: 'mx.a.test',
        listen: { host: '127.0.0.1', port: 2525 },
        ...((change as RawConfig)['server'] as object),
      },
    });
    // baseConfig takes no log section
    const log = (change as RawConfig)['log'];
    if (log) raw['log'] = log;
    expect(restartNeeded(running, config(raw, dataDir))).toEqual(expected);
  });

  it('new TLS files while TLS stays on need no restart (they are re-read)', () => {
    const tls = (key: string): Config =>
      config(
        baseConfig({
          server: { hostname: 'mx.a.test', listen: { host: '127.0.0.1', port: 2525 }, tls: { key, cert: 'cert.pem' } },
        }),
      );
    expect(restartNeeded(tls('key.pem'), tls('cert.pem'))).toEqual([]);
  });
});
