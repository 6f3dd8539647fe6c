// What the container image relies on in config/load.ts: CATCHALL_GUARD_PORT/HOST beat a mounted
// config's server.listen, CATCHALL_GUARD_HTTP_LISTEN turns the metrics endpoint on beyond loopback,
// and `log.file` (rotated JSON log files) is validated and resolved under the data directory.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseListenAddress, type ListenAddressResult } from '../../src/config/listen-address.js';
import { loadConfig, type LoadResult } from '../../src/config/load.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = path.join(ROOT, 'test/fixtures/container-other-port/default.yaml');
const dirs: string[] = [];

function load(yaml: string, env: Record<string, string> = {}): LoadResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-container-'));
  dirs.push(dir);
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, yaml);
  return loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: path.join(dir, 'data'), ...env } });
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const MINIMAL = 'domains:\n  - name: example.test\n';

/** The ENV line of the Dockerfile's runtime stage, as a map. */
function imageEnv(): Record<string, string> {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const m = /\nENV ((?:[^\n]*\\\n)*[^\n]*)/.exec(runtime);
  if (!m?.[1]) throw new Error('no ENV in the runtime stage of the Dockerfile');
  return Object.fromEntries(
    m[1]
      .replace(/\\\n/g, ' ')
      .trim()
      .split(/\s+/)
      .map((kv) => kv.split('=') as [string, string]),
  );
}

describe('parseListenAddress (CATCHALL_GUARD_HTTP_LISTEN)', () => {
  it.each<[string, ListenAddressResult]>([
    ['0.0.0.0:9025', { ok: true, host: '0.0.0.0', port: 9025 }],
    ['127.0.0.1:1', { ok: true, host: '127.0.0.1', port: 1 }],
    ['[::]:9025', { ok: true, host: '::', port: 9025 }],
    ['[::1]:65535', { ok: true, host: '::1', port: 65535 }],
    ['metrics.internal:9025', { ok: true, host: 'metrics.internal', port: 9025 }],
    ['0.0.0.0:0', { ok: true, host: '0.0.0.0', port: 0 }],
  ])('%j → %j', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each([
    '9025',
    '0.0.0.0',
    '0.0.0.0:',
    ':9025',
    '::1:9025',
    '[::1]',
    '0.0.0.0:65536',
    '0.0.0.0:90a',
    ' 0.0.0.0:9025',
    '0.0.0.0:9025 ',
    'a b:1',
    '[]:9025',
    '',
  ])('%j → refused with the expected form', (text) => {
    expect(parseListenAddress(text)).toEqual({
      ok: false,
      error: `expected HOST:PORT such as 0.0.0.0:9090 or [::]:9090, got "${text}"`,
    });
  });
});

describe('the image environment over a mounted config', () => {
  it('the Dockerfile fixes the SMTP port and host, and leaves HTTP off', () => {
    const env = imageEnv();
    expect(env).toMatchObject({
      CATCHALL_GUARD_PORT: '2525',
      CATCHALL_GUARD_HOST: '0.0.0.0',
      CATCHALL_GUARD_DATA_DIR: '/data',
    });
    expect(env['CATCHALL_GUARD_HTTP_LISTEN']).toBeUndefined();
  });

  it('the CI fixture names 127.0.0.1:2626; with the image environment the server listens on 0.0.0.0:2525', () => {
    const yaml = readFileSync(FIXTURE, 'utf8');
    const bare = load(yaml);
    expect(bare.ok && bare.config.server.listen).toEqual({ host: '127.0.0.1', port: 2626 });
    const { CATCHALL_GUARD_DATA_DIR: _data, ...env } = imageEnv();
    const inImage = load(yaml, env);
    if (!inImage.ok) throw new Error(JSON.stringify(inImage.issues));
    expect(inImage.config.server.listen).toEqual({ host: '0.0.0.0', port: 2525 });
    expect(inImage.config.http).toBeUndefined();
  });

  it('CATCHALL_GUARD_HTTP_LISTEN turns the endpoint on when the file has no http section', () => {
    const r = load(MINIMAL, { CATCHALL_GUARD_HTTP_LISTEN: '0.0.0.0:9025' });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.http).toEqual({ listen: { host: '0.0.0.0', port: 9025 } });
  });

  it('CATCHALL_GUARD_HTTP_LISTEN replaces the file’s http.listen', () => {
    const r = load(`${MINIMAL}http:\n  listen: { host: 127.0.0.1, port: 9100 }\n`, {
      CATCHALL_GUARD_HTTP_LISTEN: '[::]:9200',
    });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.http).toEqual({ listen: { host: '::', port: 9200 } });
  });

  it('a malformed CATCHALL_GUARD_HTTP_LISTEN is refused, naming the variable', () => {
    const r = load(MINIMAL, { CATCHALL_GUARD_HTTP_LISTEN: '9025' });
    expect(r).toEqual({
      ok: false,
      issues: [
        {
          path: 'CATCHALL_GUARD_HTTP_LISTEN',
          message: 'expected HOST:PORT such as 0.0.0.0:9090 or [::]:9090, got "9025"',
        },
      ],
    });
  });

  it('an http section of the wrong type is still the schema’s to report', () => {
    const r = load(`${MINIMAL}http: yes\n`, { CATCHALL_GUARD_HTTP_LISTEN: '0.0.0.0:9025' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => i.path)).toEqual(['http']);
  });
});

describe('log.file', () => {
  it('defaults: 50MB per file, 20 files; the path is relative to the data directory', () => {
    const r = load(`${MINIMAL}log:\n  file: { path: log/guard.log }\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.log.file).toEqual({
      path: path.join(r.config.paths.dataDir, 'log/guard.log'),
      maxSize: 50 * 1024 * 1024,
      keep: 20,
    });
  });

  it('an absolute path, a size with its unit and a count', () => {
    const r = load(`${MINIMAL}log:\n  file: { path: /var/log/guard/guard.log, maxSize: 10MB, keep: 5 }\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.log.file).toEqual({ path: '/var/log/guard/guard.log', maxSize: 10 * 1024 * 1024, keep: 5 });
  });

  it('absent: the log goes to stdout (no file key)', () => {
    const r = load(MINIMAL);
    expect(r.ok && r.config.log).toEqual({ level: 'info' });
  });

  it.each<[string, string, string]>([
    ['{ maxSize: 1MB }', 'log.file.path', 'required'],
    ['{ path: "log/a:b.log" }', 'log.file.path', 'expected a file path without < > " | ? * or :'],
    ['{ path: log/g.log, maxSize: 100 }', 'log.file.maxSize', 'at least 1KB'],
    ['{ path: log/g.log, keep: 0 }', 'log.file.keep', 'Number must be greater than or equal to 1'],
    ['{ path: log/g.log, rotate: daily }', 'log.file.rotate', 'unknown key'],
  ])('log.file: %s → %s', (value, keyPath, message) => {
    const r = load(`${MINIMAL}log:\n  file: ${value}\n`);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.find((i) => i.path === keyPath)?.message).toContain(message);
  });
});
