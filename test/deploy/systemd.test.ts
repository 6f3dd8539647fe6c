// deploy/catchall-guard.service and the production install of README "Running with systemd": the unit
// passes `systemd-analyze verify`, and the install (compiled program, shipped config, production
// dependencies only) run the way the unit runs it — as an unprivileged user holding only
// CAP_NET_BIND_SERVICE, with the unit's environment — listens on a port below 1024, reloads on SIGHUP
// and exits 0 on SIGTERM; a CLI call from another directory finds the same data.
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHUTDOWN_GRACE_MS } from '../../src/cli/serve.js';
import { buildDist, ROOT } from '../helpers/build-dist.js';
import { cleanEnv } from '../helpers/cli.js';
import { RawSmtp } from '../helpers/smtp-client.js';

const run = promisify(execFile);
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const SETPRIV = '/usr/bin/setpriv';
const UNIT_FILE = path.join(ROOT, 'deploy', 'catchall-guard.service');
const NOBODY = 65534;

/** `Key=Value` lines per section; a key given twice (Environment=) keeps every value. */
function parseUnit(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1)]);
  }
  return keys;
}

const unitText = readFileSync(UNIT_FILE, 'utf8');
const unit = parseUnit(unitText);
const one = (key: string): string => {
  const v = unit.get(key);
  expect(v, key).toHaveLength(1);
  return v?.[0] ?? '';
};

// the installed layout, in a temp directory: <root>/opt/catchall-guard, <root>/etc/catchall-guard,
// <root>/var/lib/catchall-guard
let root: string;
let installDir: string;
let etcDir: string;
let stateDir: string;
/** The unit with its paths moved into the temp layout and ExecStart's node being this test's node. */
let localUnit: string;

const relocate = (text: string): string =>
  text
    .replaceAll('/usr/bin/node ', `${process.execPath} `)
    .replaceAll('/opt/catchall-guard', installDir)
    .replaceAll('/etc/catchall-guard', etcDir)
    .replaceAll('/var/lib/catchall-guard', stateDir);

beforeAll(async () => {
  await buildDist();
  root = mkdtempSync(path.join(tmpdir(), 'cg-install-'));
  chmodSync(root, 0o755);
  installDir = path.join(root, 'opt', 'catchall-guard');
  etcDir = path.join(root, 'etc', 'catchall-guard');
  stateDir = path.join(root, 'var', 'lib', 'catchall-guard');
  // README: cp -r dist config deploy package.json package-lock.json README.md /opt/catchall-guard/
  mkdirSync(installDir, { recursive: true });
  for (const p of ['dist', 'config', 'deploy', 'package.json', 'package-lock.json', 'README.md'])
    cpSync(path.join(ROOT, p), path.join(installDir, p), { recursive: true });
  // README: (cd /opt/catchall-guard && npm ci --omit=dev --ignore-scripts) — without --ignore-scripts
  // npm runs `prepare` (tsc), which is a dev dependency and is not there
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: installDir,
    timeout: 170_000,
  });
  // README: install -d -m 0750 /etc/catchall-guard; the config and recipients file 0640; then edited
  mkdirSync(etcDir, { recursive: true });
  cpSync(path.join(installDir, 'config', 'example.test.recipients'), path.join(etcDir, 'example.test.recipients'));
  const config = parse(readFileSync(path.join(installDir, 'config', 'default.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  config['dataDir'] = stateDir;
  writeFileSync(path.join(etcDir, 'config.yaml'), stringify(config));
  chmodSync(path.join(root, 'etc'), 0o755);
  chmodSync(etcDir, 0o755);
  // systemd's StateDirectory= creates it, owned by the unit's user (here: nobody)
  mkdirSync(path.dirname(stateDir), { recursive: true, mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o700 });
  if (process.getuid?.() === 0) chownSync(stateDir, NOBODY, NOBODY);
  localUnit = path.join(root, 'catchall-guard.service');
  writeFileSync(localUnit, relocate(unitText));
}, 240_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('deploy/catchall-guard.service', () => {
  it('passes systemd-analyze verify: no error, no warning', async () => {
    expect(existsSync(SYSTEMD_ANALYZE), `${SYSTEMD_ANALYZE} is needed (Debian package systemd)`).toBe(true);
    // verify checks that ExecStart's program exists: the shipped /usr/bin/node may be elsewhere on this
    // machine (CI's node), so the copy names this test's node and the temp install; nothing else differs
    const r = await run(SYSTEMD_ANALYZE, ['verify', '--man=no', localUnit]).then(
      (ok) => ({ code: 0, stderr: ok.stderr }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('runs node itself (not npm), reloads with SIGHUP, drains within its stop timeout, restarts on failure but not on a bad config', () => {
    const exec = one('Service.ExecStart').split(' ');
    expect(exec[0]).toBe('/usr/bin/node');
    expect(exec.slice(-3)).toEqual(['serve', '--config', '/etc/catchall-guard/config.yaml']);
    expect(exec).toContain('/opt/catchall-guard/dist/main.js');
    expect(unitText).not.toMatch(/^ExecStart=.*\bnpm\b/m);
    expect(one('Service.ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('Service.KillSignal')).toBe('SIGTERM');
    expect(Number(one('Service.TimeoutStopSec'))).toBeGreaterThan(SHUTDOWN_GRACE_MS / 1000);
    expect(one('Service.Restart')).toBe('on-failure');
    expect(one('Service.RestartPreventExitStatus')).toBe('2');
  });

  it('an unprivileged user with CAP_NET_BIND_SERVICE only, a fixed data directory, no W^X (it breaks V8)', () => {
    expect(one('Service.User')).toBe('catchall-guard');
    expect(one('Service.AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    expect(one('Service.CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(one('Service.NoNewPrivileges')).toBe('yes');
    expect(one('Service.ProtectSystem')).toBe('strict');
    expect(unit.get('Service.Environment')).toContain('CATCHALL_GUARD_DATA_DIR=/var/lib/catchall-guard');
    expect(one('Service.StateDirectory')).toBe('catchall-guard');
    expect(one('Service.ReadWritePaths')).toBe('/var/lib/catchall-guard');
    expect(unit.has('Service.MemoryDenyWriteExecute')).toBe(false);
  });
});

describe('the production install, run as the unit runs it', () => {
  it('holds production dependencies only and knows its version', async () => {
    for (const dev of ['typescript', 'vitest', 'eslint', 'prettier'])
      expect(existsSync(path.join(installDir, 'node_modules', dev)), dev).toBe(false);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = await run(process.execPath, [path.join(installDir, 'dist', 'main.js'), '--version'], { cwd: '/' });
    expect(v.stdout).toBe(`catchall-guard ${pkg.version}\n`);
  });

  it('listens on a port below 1024 as uid 65534, greets 220, reloads on SIGHUP, exits 0 on SIGTERM; quarantine list from / finds its data', async () => {
    expect(process.getuid?.(), 'this test switches to uid 65534 with setpriv and must run as root (CI does)').toBe(0);
    expect(existsSync(SETPRIV), `${SETPRIV} (util-linux) is needed`).toBe(true);
    const port = await freePrivilegedPort();
    const configPath = path.join(etcDir, 'config.yaml');
    const config = parse(readFileSync(configPath, 'utf8')) as Record<string, Record<string, unknown>>;
    config['server'] = { ...config['server'], listen: { host: '127.0.0.1', port } };
    writeFileSync(configPath, stringify(config));

    // what systemd does with the unit: its user, its ambient capability, its environment, its ExecStart
    const env = Object.fromEntries(
      (unit.get('Service.Environment') ?? []).map((kv) => relocate(kv).split('=', 2) as [string, string]),
    );
    const argv = relocate(one('Service.ExecStart')).split(' ');
    const child = spawn(
      SETPRIV,
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        '--inh-caps=+net_bind_service',
        '--ambient-caps=+net_bind_service',
        ...argv,
      ],
      { cwd: stateDir, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waitFor = async (text: string): Promise<void> => {
      for (let i = 0; i < 150 && !out.includes(text); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out, err).toContain(text);
    };
    try {
      await waitFor(`"event":"listening","host":"127.0.0.1","port":${port}`);
      const { client, greeting } = await RawSmtp.connect(port);
      expect(greeting?.line).toMatch(/^220 mx\.example\.test /);
      client.close();
      child.kill('SIGHUP');
      await waitFor('"event":"reload","ok":true,"what":"config"');

      // the operator, from another directory, without the unit's environment: dataDir in the config
      const list = await run(
        process.execPath,
        [path.join(installDir, 'dist', 'main.js'), 'quarantine', 'list', '--config', configPath],
        {
          cwd: '/',
          env: cleanEnv(),
        },
      );
      expect(list.stdout).toBe('the quarantine is empty\n');
      expect(existsSync(path.join(stateDir, 'quarantine'))).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('"event":"shutdown","phase":"done"');
  });
});

/** A free port below 1024 on 127.0.0.1 (this test is root and can bind it to look). */
async function freePrivilegedPort(): Promise<number> {
  for (let port = 1010; port > 600; port--) {
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 601 and 1010 on 127.0.0.1');
}
