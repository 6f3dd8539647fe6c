// Issue #15 item 8: certificates from Let's Encrypt. certbot keeps every issue in archive/<name>/
// (cert1.pem, privkey1.pem, …) and points live/<name>/*.pem at the newest through relative symbolic
// links; a renewal writes the N+1 files and repoints the links. The guard reads server.tls through
// those links, re-reads on SIGHUP, and the deploy hook (deploy/certbot-deploy-hook.sh) copies a
// renewed pair for a non-root user and sends the SIGHUP. A new STARTTLS handshake must then show
// the new certificate (compared by fingerprint).
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { stringify } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { buildDist } from '../helpers/build-dist.js';
import { ROOT, spawnServer, type ChildServer } from '../helpers/child-server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig, startApp, type TestApp } from '../helpers/start-app.js';

const NAME = 'mx.test.invalid';
const HOOK = path.join(ROOT, 'deploy', 'certbot-deploy-hook.sh');

interface Issue {
  readonly key: string;
  readonly cert: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`). */
  readonly fingerprint: string;
}

async function issue(): Promise<Issue> {
  const p = await generate([{ name: 'commonName', value: NAME }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 2 * 86_400_000),
  });
  return { key: p.private, cert: p.cert, fingerprint: new X509Certificate(p.cert).fingerprint256 };
}

/** /etc/letsencrypt as certbot lays it out, under `root`. */
function certbotLayout(root: string): { live: string; renew(n: number, i: Issue, only?: 'cert' | 'key'): void } {
  const archive = path.join(root, 'archive', NAME);
  const live = path.join(root, 'live', NAME);
  mkdirSync(archive, { recursive: true, mode: 0o700 });
  mkdirSync(live, { recursive: true, mode: 0o700 });
  /** Writes the n-th files into archive/ and repoints live/ (each link replaced atomically). */
  const renew = (n: number, i: Issue, only?: 'cert' | 'key'): void => {
    const files: Record<string, string> = { cert: i.cert, chain: '', fullchain: i.cert, privkey: i.key };
    for (const [base, text] of Object.entries(files)) {
      const isKey = base === 'privkey';
      if ((only === 'cert' && isKey) || (only === 'key' && !isKey)) continue;
      writeFileSync(path.join(archive, `${base}${n}.pem`), text, { mode: isKey ? 0o600 : 0o644 });
      const tmp = path.join(live, `.${base}.pem.tmp`);
      symlinkSync(`../../archive/${NAME}/${base}${n}.pem`, tmp);
      renameSync(tmp, path.join(live, `${base}.pem`));
    }
  };
  return { live, renew };
}

/** A new session's STARTTLS handshake: the fingerprint of the certificate the server presents. */
async function servedFingerprint(port: number): Promise<string> {
  const { client } = await RawSmtp.connect(port);
  expect((await client.cmd('EHLO client.test')).text).toContain('STARTTLS');
  expect((await client.cmd('STARTTLS')).code).toBe(220);
  client.socket.removeAllListeners('data');
  const socket = tls.connect({ socket: client.socket, rejectUnauthorized: false, servername: NAME });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
  socket.destroy();
  return fp;
}

let dirs: string[] = [];
let stoppers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stoppers.reverse()) await s();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  stoppers = [];
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cg-le-'));
  dirs.push(d);
  return d;
}

async function serve(configDir: string, tlsPaths: { key: string; cert: string }): Promise<ChildServer> {
  const configPath = path.join(configDir, 'config.yaml');
  writeFileSync(configPath, stringify(baseConfig({ server: { tls: tlsPaths } })));
  const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: path.join(configDir, 'data') });
  stoppers.push(async () => {
    s.proc.kill('SIGTERM');
    await s.exited;
  });
  return s;
}

let first: Issue;
let second: Issue;
beforeAll(async () => {
  await buildDist();
  [first, second] = await Promise.all([issue(), issue()]);
});

describe("Let's Encrypt certificates (certbot's live/ and archive/)", () => {
  it('server.tls on live/ symlinks: a renewal followed by SIGHUP serves the new certificate', async () => {
    const root = tempDir();
    const le = certbotLayout(path.join(root, 'letsencrypt'));
    le.renew(1, first);
    const s = await serve(root, {
      key: path.join(le.live, 'privkey.pem'),
      cert: path.join(le.live, 'fullchain.pem'),
    });
    expect(await servedFingerprint(s.port)).toBe(first.fingerprint);

    le.renew(2, second);
    // until the reload, the certificate read at start is served
    expect(await servedFingerprint(s.port)).toBe(first.fingerprint);
    s.proc.kill('SIGHUP');
    await s.waitForLine((l) => l['event'] === 'reload' && l['ok'] === true && l['what'] === 'config');
    expect(await servedFingerprint(s.port)).toBe(second.fingerprint);
  });

  it('the deploy hook copies the renewed pair for the service group (key 0640) and its SIGHUP reloads it', async () => {
    const root = tempDir();
    const le = certbotLayout(path.join(root, 'letsencrypt'));
    const tlsDir = path.join(root, 'tls');
    const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
    le.renew(1, first);
    const hook = (reload: string): void => {
      execFileSync('sh', [HOOK], {
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          RENEWED_LINEAGE: le.live,
          RENEWED_DOMAINS: NAME,
          CATCHALL_GUARD_TLS_DIR: tlsDir,
          CATCHALL_GUARD_TLS_GROUP: group,
          CATCHALL_GUARD_RELOAD: reload,
        },
      });
    };
    // the first issue: nothing runs yet, so the reload command is a no-op
    hook('true');
    const key = path.join(tlsDir, 'privkey.pem');
    const cert = path.join(tlsDir, 'fullchain.pem');
    expect(statSync(tlsDir).mode & 0o777).toBe(0o750);
    expect(statSync(key).mode & 0o777).toBe(0o640);
    expect(statSync(cert).mode & 0o777).toBe(0o644);
    // plain files, not links into archive/ (which certbot keeps 0700 root)
    expect(statSync(key).isFile() && !statSync(key, { throwIfNoEntry: false })?.isSymbolicLink()).toBe(true);
    const s = await serve(root, { key, cert });
    expect(await servedFingerprint(s.port)).toBe(first.fingerprint);

    le.renew(2, second);
    hook(`kill -HUP ${s.proc.pid ?? 0}`);
    await s.waitForLine((l) => l['event'] === 'reload' && l['ok'] === true && l['what'] === 'config');
    expect(await servedFingerprint(s.port)).toBe(second.fingerprint);
    expect(statSync(key).mode & 0o777).toBe(0o640);
  });

  it('the hook refuses to run outside certbot (no RENEWED_LINEAGE) and changes nothing', () => {
    const root = tempDir();
    let status = 0;
    let stderr = '';
    try {
      execFileSync('sh', [HOOK], {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CATCHALL_GUARD_TLS_DIR: path.join(root, 'tls') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      const e = err as { status: number; stderr: Buffer };
      status = e.status;
      stderr = e.stderr.toString();
    }
    expect(status).not.toBe(0);
    expect(stderr).toContain('RENEWED_LINEAGE');
    expect(() => statSync(path.join(root, 'tls'))).toThrow(/ENOENT/);
  });
});

describe('a reload that meets a renewal half-way', () => {
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it('a certificate without its key is refused (reload ok: false) and the old pair keeps serving; complete, it is taken', async () => {
    const root = tempDir();
    const le = certbotLayout(path.join(root, 'letsencrypt'));
    le.renew(1, first);
    t = await startApp({
      server: { tls: { key: path.join(le.live, 'privkey.pem'), cert: path.join(le.live, 'fullchain.pem') } },
    });
    const reload = (): ReturnType<TestApp['app']['reload']> => {
      const r = loadConfig({ configPath: t?.configPath ?? '', env: { CATCHALL_GUARD_DATA_DIR: t?.dataDir ?? '' } });
      if (!r.ok) throw new Error('config');
      return t?.app.reload(r.config) ?? { ok: true };
    };
    expect(await servedFingerprint(t.port)).toBe(first.fingerprint);

    le.renew(2, second, 'cert');
    const half = reload();
    expect(half.ok).toBe(false);
    expect(half.ok ? '' : half.error).toMatch(/key values mismatch/);
    expect(t.events.of('reload').at(-1)).toMatchObject({ event: 'reload', ok: false, what: 'config' });
    // the old pair still serves new sessions
    expect(await servedFingerprint(t.port)).toBe(first.fingerprint);

    le.renew(2, second, 'key');
    expect(reload()).toEqual({ ok: true });
    expect(await servedFingerprint(t.port)).toBe(second.fingerprint);
  });
});
