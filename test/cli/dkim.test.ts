// SPEC §8 `dkim keygen` through the built CLI (key file, mode, printed record and config line, refusal to
// overwrite, bad usage) and SPEC §3 `notices.dkim.privateKey`: a file that is missing or not a usable
// private key is a configuration error naming the key path (exit 2 from `config validate`).
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDkim } from '../../src/cli/dkim.js';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/config/issues.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli } from '../helpers/cli.js';
import { modeOf } from '../helpers/files.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-dkim-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const run = promisify(execFile);
const SETPRIV = '/usr/bin/setpriv';
/** nobody:nogroup on Debian, standing in for the catchall-guard user and group. */
const NOBODY = 65534;

const MINIMAL = 'domains:\n  - name: example.test\n';
const USAGE_LINE = '  dkim keygen --domain D --selector S [--out FILE]';

/** The printed record's strings, each checked against the 255-character limit, joined as a resolver would. */
function txtValue(recordLine: string, owner: string): { value: string; strings: string[] } {
  const prefix = `${owner} IN TXT `;
  expect(recordLine.startsWith(prefix)).toBe(true);
  const rest = recordLine.slice(prefix.length);
  const strings = [...rest.matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '');
  // nothing but the quoted strings and single spaces between them
  expect(strings.map((s) => `"${s}"`).join(' ')).toBe(rest);
  for (const s of strings) expect(s.length).toBeLessThanOrEqual(255);
  return { value: strings.join(''), strings };
}

/** What OpenDKIM publishes for a key file: the SubjectPublicKeyInfo of its public half, base64. */
function spkiOf(keyFile: string): string {
  return createPublicKey(createPrivateKey(readFileSync(keyFile)))
    .export({ type: 'spki', format: 'der' })
    .toString('base64');
}

describe('dkim keygen (built CLI)', () => {
  beforeAll(async () => {
    await buildDist();
  }, 200_000);

  it('default file beside the config: PKCS#8 RSA 2048, 0600 in a 0750 dir; the record p= is its SPKI; the printed line makes a valid config', async () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'config.yaml');
    const r = await runCli([
      'dkim',
      'keygen',
      '--domain',
      'Example.TEST.',
      '--selector',
      'cg2026',
      '--config',
      configPath,
    ]);
    const keyFile = path.join(dir, 'dkim', 'example.test.cg2026.key');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');

    const pem = readFileSync(keyFile, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    const key = createPrivateKey(pem);
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.modulusLength]).toEqual(['rsa', 2048]);
    expect(modeOf(keyFile)).toBe(0o600);
    expect(modeOf(path.dirname(keyFile))).toBe(0o750);

    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(6);
    const { value, strings } = txtValue(lines[2] ?? '', 'cg2026._domainkey.example.test.');
    expect(value).toBe(`v=DKIM1; k=rsa; p=${spkiOf(keyFile)}`);
    // 2048-bit SPKI is 392 base64 characters: the value needs two strings
    expect(strings.map((s) => s.length)).toEqual([255, value.length - 255]);
    expect(lines).toEqual([
      `private key written to ${keyFile} (RSA 2048, mode 0600)`,
      'DNS record to publish:',
      lines[2],
      `then add under notices: in ${configPath}:`,
      '  dkim: { selector: cg2026, privateKey: "dkim/example.test.cg2026.key" }',
      '',
    ]);

    // the operator's next step: paste the line, validate
    writeFileSync(configPath, `${MINIMAL}notices:\n${lines[4]}\n`);
    expect(await runCli(['config', 'validate', '--config', configPath])).toMatchObject({
      code: 0,
      stdout: 'ok\n',
      stderr: '',
    });
  });

  it("in a config directory of the service group (root:G 0750, as /etc/catchall-guard): dkim/ is made 0750 with group G, so the README's chgrp + chmod 0640 of the key lets the service user read it", async () => {
    expect(process.getuid?.(), 'this test switches to uid 65534 with setpriv and must run as root (CI does)').toBe(0);
    expect(existsSync(SETPRIV), `${SETPRIV} (util-linux) is needed`).toBe(true);
    const base = tempDir();
    chmodSync(base, 0o755);
    const etc = path.join(base, 'etc');
    mkdirSync(etc);
    chownSync(etc, 0, NOBODY);
    chmodSync(etc, 0o750);
    const r = await runCli([
      'dkim',
      'keygen',
      '--domain',
      'example.test',
      '--selector',
      'cg2026',
      '--config',
      path.join(etc, 'config.yaml'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const dkimDir = path.join(etc, 'dkim');
    const keyFile = path.join(dkimDir, 'example.test.cg2026.key');
    expect([statSync(dkimDir).uid, statSync(dkimDir).gid, modeOf(dkimDir)]).toEqual([0, NOBODY, 0o750]);
    expect(modeOf(keyFile)).toBe(0o600);
    // the service: its own uid and the config directory's group, nothing else
    const readAsService = () =>
      run(SETPRIV, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '/usr/bin/cat', keyFile]);
    await expect(readAsService()).rejects.toThrow(/Permission denied/);
    chownSync(keyFile, -1, NOBODY);
    chmodSync(keyFile, 0o640);
    expect((await readAsService()).stdout).toBe(readFileSync(keyFile, 'utf8'));
  });

  it('--out FILE: written there, named whole in the config line when it is not beside the config', async () => {
    const dir = tempDir();
    const keyFile = path.join(dir, 'keys', 'notices.pem');
    const configPath = path.join(tempDir(), 'config.yaml');
    const r = await runCli([
      'dkim',
      'keygen',
      '--domain',
      'example.test',
      '--selector',
      's1.notices',
      '--out',
      keyFile,
      '--config',
      configPath,
    ]);
    expect(r.code).toBe(0);
    expect(modeOf(keyFile)).toBe(0o600);
    const lines = r.stdout.split('\n');
    expect(txtValue(lines[2] ?? '', 's1.notices._domainkey.example.test.').value).toBe(
      `v=DKIM1; k=rsa; p=${spkiOf(keyFile)}`,
    );
    expect(lines[0]).toBe(`private key written to ${keyFile} (RSA 2048, mode 0600)`);
    expect(lines[4]).toBe(`  dkim: { selector: s1.notices, privateKey: ${JSON.stringify(keyFile)} }`);
  });

  it('refuses to overwrite an existing file: exit 2, the file unchanged, nothing on stdout', async () => {
    const dir = tempDir();
    const keyFile = path.join(dir, 'existing.key');
    writeFileSync(keyFile, 'the key already published\n', { mode: 0o600 });
    const r = await runCli(['dkim', 'keygen', '--domain', 'example.test', '--selector', 'cg2026', '--out', keyFile]);
    expect(r).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `catchall-guard: dkim keygen: ${keyFile} exists; refusing to overwrite it (use --out for another file)\n`,
    });
    expect(readFileSync(keyFile, 'utf8')).toBe('the key already published\n');
  });

  it.each<[string, string[], string]>([
    ['no --domain', ['dkim', 'keygen', '--selector', 'cg2026'], 'dkim keygen needs --domain D'],
    ['no --selector', ['dkim', 'keygen', '--domain', 'example.test'], 'dkim keygen needs --selector S'],
    [
      'no subcommand',
      ['dkim', '--domain', 'example.test', '--selector', 's'],
      'usage: dkim keygen --domain D --selector S [--out FILE]',
    ],
    [
      'an unknown subcommand',
      ['dkim', 'rotate', '--domain', 'example.test', '--selector', 's'],
      'usage: dkim keygen --domain D --selector S [--out FILE]',
    ],
    [
      'an extra argument',
      ['dkim', 'keygen', 'now', '--domain', 'example.test', '--selector', 's'],
      'usage: dkim keygen --domain D --selector S [--out FILE]',
    ],
    [
      'a domain that is not one',
      ['dkim', 'keygen', '--domain', 'localhost', '--selector', 's'],
      'dkim keygen: "localhost" is not a valid domain name',
    ],
    [
      'a selector with an underscore',
      ['dkim', 'keygen', '--domain', 'example.test', '--selector', 'cg_2026'],
      'dkim keygen: "cg_2026" is not a valid selector (letters, digits, hyphens, dots; e.g. cg2026)',
    ],
    [
      '--domain without a value',
      ['dkim', 'keygen', '--selector', 's', '--domain'],
      "Option '--domain <value>' argument missing",
    ],
  ])('bad usage, %s: exit 2, the reason and the usage, no key written', async (_label, args, reason) => {
    const dir = tempDir();
    const r = await runCli(['--config', path.join(dir, 'config.yaml'), ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const [first, second] = r.stderr.split('\n');
    expect(first).toBe(`catchall-guard: ${reason}`);
    expect(second).toBe('usage: catchall-guard [command] [--config PATH]');
    expect(r.stderr.split('\n')).toContain(USAGE_LINE);
    expect(() => statSync(path.join(dir, 'dkim'))).toThrow(/ENOENT/);
  });
});

describe('dkim keygen (in process)', () => {
  it('a directory that cannot be created is a runtime failure (exit 1), named', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'plain-file'), '');
    const out: string[] = [];
    const err: string[] = [];
    const target = path.join(dir, 'plain-file', 'sub', 'k.key');
    const code = await runDkim(
      ['keygen'],
      { domain: 'example.test', selector: 'cg2026', out: target, configFile: path.join(dir, 'config.yaml') },
      { out: (t) => out.push(t), err: (t) => err.push(t) },
    );
    expect({ code, out, err }).toEqual({
      code: 1,
      out: [],
      err: [`catchall-guard: dkim keygen: cannot create ${path.join(dir, 'plain-file', 'sub')}: ENOTDIR\n`],
    });
  });

  it('a relative --out is taken from the working directory', async () => {
    const dir = tempDir();
    const out: string[] = [];
    const code = await runDkim(
      ['keygen'],
      { domain: 'example.test', selector: 'cg2026', out: 'k.key', configFile: 'conf/config.yaml', cwd: dir },
      { out: (t) => out.push(t), err: (t) => out.push(t) },
    );
    expect(code).toBe(0);
    expect(modeOf(path.join(dir, 'k.key'))).toBe(0o600);
    // beside conf/, not in it: named whole
    expect(out.join('').split('\n')[4]).toBe(
      `  dkim: { selector: cg2026, privateKey: ${JSON.stringify(path.join(dir, 'k.key'))} }`,
    );
  });
});

describe('notices.dkim.privateKey: not a usable key is a configuration error naming the path', () => {
  /** A config dir with `key` holding `content` (a file), or a directory when content is null. */
  function siteWithKey(
    content: string | Buffer | null,
    name = 'dkim/notice.key',
  ): { configPath: string; keyFile: string } {
    const dir = tempDir();
    const keyFile = path.join(dir, name);
    mkdirSync(path.dirname(keyFile), { recursive: true });
    if (content === null) mkdirSync(keyFile);
    else writeFileSync(keyFile, content, { mode: 0o600 });
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, `${MINIMAL}notices:\n  dkim: { selector: cg2026, privateKey: ${name} }\n`);
    return { configPath, keyFile };
  }

  const issuesOf = (configPath: string): readonly ConfigIssue[] => {
    const r = loadConfig({ configPath, env: {} });
    return r.ok ? [] : r.issues;
  };

  const rsa = (bits: number): string =>
    generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it.each<[string, () => string | Buffer, string]>([
    ['a text file', () => 'not a key at all\n', 'not a PEM private key'],
    ['an empty file', () => '', 'not a PEM private key'],
    [
      'the public key',
      () =>
        generateKeyPairSync('rsa', { modulusLength: 1024 })
          .publicKey.export({ type: 'spki', format: 'pem' })
          .toString(),
      'a public key: privateKey must name the private key',
    ],
    [
      'an encrypted key',
      () =>
        generateKeyPairSync('rsa', {
          modulusLength: 1024,
          publicKeyEncoding: { type: 'spki', format: 'pem' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
        }).privateKey,
      'the key is encrypted: DKIM signing needs an unencrypted key',
    ],
    [
      'an EC key',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      'a key of type ec: DKIM signs with RSA or Ed25519 keys',
    ],
    ['a 512-bit RSA key', () => rsa(512), 'an RSA key of 512 bits: DKIM needs at least 1024'],
    [
      'a DER key, not PEM',
      () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'der' }),
      'not a PEM private key',
    ],
    ['a file of 70 KB', () => 'x'.repeat(70_000), 'larger than 65536 bytes, not a key file'],
  ])('%s', (_label, content, problem) => {
    const { configPath, keyFile } = siteWithKey(content());
    expect(issuesOf(configPath)).toEqual([
      { path: 'notices.dkim.privateKey', message: `${keyFile} is not a usable DKIM private key: ${problem}` },
    ]);
  });

  it('a missing file and a directory: cannot read / is a directory', () => {
    const missing = siteWithKey('x');
    rmSync(missing.keyFile);
    expect(issuesOf(missing.configPath)).toEqual([
      { path: 'notices.dkim.privateKey', message: `cannot read ${missing.keyFile}: no such file` },
    ]);
    const dir = siteWithKey(null);
    expect(issuesOf(dir.configPath)).toEqual([
      { path: 'notices.dkim.privateKey', message: `${dir.keyFile} is a directory, expected a file` },
    ]);
  });

  it('an RSA (PKCS#1 or PKCS#8) or Ed25519 key is accepted, its path resolved beside the config', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    for (const pem of [
      privateKey.export({ type: 'pkcs1', format: 'pem' }),
      privateKey.export({ type: 'pkcs8', format: 'pem' }),
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ]) {
      const { configPath, keyFile } = siteWithKey(pem);
      const r = loadConfig({ configPath, env: {} });
      if (!r.ok) throw new Error(JSON.stringify(r.issues));
      expect(r.config.notices.dkim).toEqual({ selector: 'cg2026', privateKey: keyFile });
    }
  });

  describe('config validate (built CLI)', () => {
    beforeAll(async () => {
      await buildDist();
    }, 200_000);

    it.each<[string, string | null]>([
      ['a file that is not a key', 'not a key\n'],
      ['a missing file', null],
    ])('%s: exit 2, the key path named, no stack trace', async (_label, content) => {
      const { configPath, keyFile } = siteWithKey(content ?? 'x');
      if (content === null) rmSync(keyFile);
      const r = await runCli(['config', 'validate', '--config', configPath]);
      const message =
        content === null
          ? `cannot read ${keyFile}: no such file`
          : `${keyFile} is not a usable DKIM private key: not a PEM private key`;
      expect(r).toMatchObject({
        code: 2,
        stdout: '',
        stderr: `catchall-guard: invalid configuration (${configPath}):\nnotices.dkim.privateKey: ${message}\n`,
      });
    });
  });
});
