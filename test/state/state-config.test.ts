// `state.*` validation (SPEC §3): each wrong key named by its path, defaults filled in.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';

function load(state: unknown): ReturnType<typeof loadConfig> {
  const { configPath, dataDir } = writeConfig({ ...baseConfig(), state });
  return loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
}

const issues = (r: ReturnType<typeof loadConfig>): string[] =>
  r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);

describe('state config', () => {
  it('defaults: memory, prefix cg:, timeout 2s', () => {
    const r = load(undefined);
    expect(r.ok && r.config.state).toEqual({ type: 'memory', prefix: 'cg:', timeout: 2000 });
  });

  it.each([
    [{ type: 'redis' }, 'state.url: required when state.type is redis'],
    [
      { type: 'redis', url: 'http://x' },
      'state.url: expected a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0',
    ],
    [{ type: 'etcd' }, 'state.type: expected one of memory, redis'],
    [{ type: 'redis', url: 'redis://127.0.0.1:6379/0', timeout: '5ms' }, 'state.timeout: at least 10ms'],
    [{ type: 'redis', url: 'redis://127.0.0.1:6379/0', port: 6379 }, 'state.port: unknown key'],
  ])('%j → %s', (state, message) => {
    expect(issues(load(state))).toContain(message);
  });

  it('a redis state with its url and a timeout in ms', () => {
    const r = load({ type: 'redis', url: 'rediss://user:pw@redis.internal:6380/2', timeout: '250ms', prefix: 'mx:' });
    expect(r.ok && r.config.state).toEqual({
      type: 'redis',
      url: 'rediss://user:pw@redis.internal:6380/2',
      prefix: 'mx:',
      timeout: 250,
    });
  });
});
