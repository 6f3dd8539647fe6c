// SPEC §3 and §8: configuration errors named by key path, environment overrides, path resolution,
// and the `config validate` / `check` commands of the built CLI.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config, type LoadOptions } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/config/issues.js';
import { buildDist, MAIN_JS, ROOT } from '../helpers/build-dist.js';
import { cleanEnv, runCli } from '../helpers/cli.js';
import { RawSmtp } from '../helpers/smtp-client.js';

const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-config-'));
  dirs.push(dir);
  return dir;
}

/** Writes `config.yaml` (and any other files) into a fresh directory; returns the config path. */
function writeYaml(text: string, files: Record<string, string> = {}): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, text);
  return configPath;
}

const MINIMAL = 'domains:\n  - name: example.test\n';

function load(configPath: string, opts: Omit<LoadOptions, 'configPath'> = {}): ReturnType<typeof loadConfig> {
  // never the test runner's own environment
  return loadConfig({ configPath, env: {}, ...opts });
}

function ok(configPath: string, opts: Omit<LoadOptions, 'configPath'> = {}): Config {
  const r = load(configPath, opts);
  if (!r.ok) throw new Error(`expected a valid config, got ${JSON.stringify(r.issues)}`);
  return r.config;
}

function issues(configPath: string, opts: Omit<LoadOptions, 'configPath'> = {}): readonly ConfigIssue[] {
  const r = load(configPath, opts);
  if (r.ok) throw new Error('expected configuration errors, got a valid config');
  return r.issues;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('loadConfig: errors name the key path', () => {
  it.each<[string, string, Record<string, string>, ConfigIssue]>([
    [
      'wrong enum',
      'domains:\n  - name: example.test\n    unknownRecipients: bounce\n',
      {},
      {
        path: 'domains[0].unknownRecipients',
        message: 'expected one of reject, reject-after-data, quarantine, observe',
      },
    ],
    ['unknown key', `server:\n  bogus: 1\n${MINIMAL}`, {}, { path: 'server.bogus', message: 'unknown key' }],
    ['unknown top-level key', `${MINIMAL}extra: true\n`, {}, { path: 'extra', message: 'unknown key' }],
    [
      'unknown nested key',
      `server:\n  listen: { host: 127.0.0.1, prot: 25 }\n${MINIMAL}`,
      {},
      { path: 'server.listen.prot', message: 'unknown key' },
    ],
    [
      'wrong type: string for a count',
      `server:\n  maxRecipients: many\n${MINIMAL}`,
      {},
      { path: 'server.maxRecipients', message: 'expected number, got string' },
    ],
    [
      'wrong type: number for a list',
      'domains:\n  - name: example.test\n    recipients: 5\n',
      {},
      { path: 'domains[0].recipients', message: 'expected array, got number' },
    ],
    [
      'wrong type: scalar for a section',
      `server: 5\n${MINIMAL}`,
      {},
      { path: 'server', message: 'expected object, got number' },
    ],
    [
      'wrong type: boolean',
      `quarantine:\n  storeBody: "yes please"\n${MINIMAL}`,
      {},
      { path: 'quarantine.storeBody', message: 'expected boolean, got string' },
    ],
    ['missing domains', 'server:\n  hostname: mx.example.test\n', {}, { path: 'domains', message: 'required' }],
    ['empty domains', 'domains: []\n', {}, { path: 'domains', message: 'at least one served domain is required' }],
    [
      'missing domain name',
      'domains:\n  - unknownRecipients: reject\n',
      {},
      { path: 'domains[0].name', message: 'required' },
    ],
    [
      'duplicate domain',
      'domains:\n  - name: example.test\n  - name: other.test\n  - name: Example.Test\n',
      {},
      { path: 'domains[2].name', message: 'duplicate of domains[0].name' },
    ],
    [
      'observe without observeMailbox',
      'domains:\n  - name: example.test\n    unknownRecipients: observe\n',
      {},
      { path: 'domains[0].observeMailbox', message: 'required when unknownRecipients is observe' },
    ],
    [
      'observeMailbox on a domain not served',
      'domains:\n  - name: example.test\n    unknownRecipients: observe\n    observeMailbox: alice@elsewhere.test\n',
      {},
      { path: 'domains[0].observeMailbox', message: 'must be a mailbox of a served domain' },
    ],
    [
      'delivery.type smtp without smtp section',
      `${MINIMAL}delivery:\n  type: smtp\n`,
      {},
      { path: 'delivery.smtp', message: 'required when delivery.type is smtp' },
    ],
    [
      'notice transport smtp without host',
      `${MINIMAL}notices:\n  transport:\n    type: smtp\n`,
      {},
      { path: 'notices.transport.host', message: 'required when notices.transport.type is smtp' },
    ],
    [
      'invalid domain name',
      'domains:\n  - name: "not a domain"\n',
      {},
      { path: 'domains[0].name', message: '"not a domain" is not a valid domain name' },
    ],
    [
      'single-label domain name',
      'domains:\n  - name: localhost\n',
      {},
      { path: 'domains[0].name', message: '"localhost" is not a valid domain name' },
    ],
    [
      'two-character subaddress separator',
      'domains:\n  - name: example.test\n    subaddressSeparator: "++"\n',
      {},
      { path: 'domains[0].subaddressSeparator', message: 'expected one character, or "" to turn subaddressing off' },
    ],
    [
      'recipient with an @',
      'domains:\n  - name: example.test\n    recipients: [alice, "bob@example.test"]\n',
      {},
      { path: 'domains[0].recipients[1]', message: 'expected a local-part without "@" or spaces' },
    ],
    [
      'bad log level',
      `${MINIMAL}log:\n  level: loud\n`,
      {},
      { path: 'log.level', message: 'expected one of fatal, error, warn, info, debug, trace, silent' },
    ],
    [
      'hostname with a space',
      `server:\n  hostname: "mx example"\n${MINIMAL}`,
      {},
      { path: 'server.hostname', message: 'expected a host name such as mx.example.org' },
    ],
  ])('%s', (_label, yaml, files, expected) => {
    // that issue and no other
    expect(issues(writeYaml(yaml, files))).toEqual([expected]);
  });

  it.each<[string, string, string, string]>([
    [
      'bad size "25XB"',
      `server:\n  maxMessageSize: 25XB\n${MINIMAL}`,
      'server.maxMessageSize',
      'invalid size "25XB": use bytes or a unit B, KB, MB, GB',
    ],
    [
      'negative size',
      `server:\n  maxMessageSize: -1\n${MINIMAL}`,
      'server.maxMessageSize',
      'expected a whole number of bytes or a size such as 25MB',
    ],
    [
      'bad duration "3 fortnights"',
      `quarantine:\n  retention: 3 fortnights\n${MINIMAL}`,
      'quarantine.retention',
      'invalid duration "3 fortnights": use a unit ms, s, m, h, d or w',
    ],
    [
      'bad duration in server',
      `server:\n  socketTimeout: soon\n${MINIMAL}`,
      'server.socketTimeout',
      'invalid duration "soon": use a unit ms, s, m, h, d or w',
    ],
    [
      'size as a boolean',
      `server:\n  maxMessageSize: true\n${MINIMAL}`,
      'server.maxMessageSize',
      'expected a number or a string with a unit',
    ],
    [
      'port out of range',
      `server:\n  listen: { port: 70000 }\n${MINIMAL}`,
      'server.listen.port',
      'Number must be less than or equal to 65535',
    ],
    [
      'maxRecipients below 1',
      `server:\n  maxRecipients: 0\n${MINIMAL}`,
      'server.maxRecipients',
      'Number must be greater than or equal to 1',
    ],
  ])('%s', (_label, yaml, keyPath, message) => {
    expect(issues(writeYaml(yaml))).toEqual([{ path: keyPath, message }]);
  });

  it('unreadable recipientsFile names domains[0].recipientsFile', () => {
    const configPath = writeYaml('domains:\n  - name: example.test\n    recipientsFile: missing.recipients\n');
    expect(issues(configPath)).toEqual([
      {
        path: 'domains[0].recipientsFile',
        message: `cannot read ${path.join(path.dirname(configPath), 'missing.recipients')}: no such file`,
      },
    ]);
  });

  // a directory passes an R_OK check; it must still be refused, or the domain would answer 451 forever
  it('a recipientsFile that is a directory is reported', () => {
    const configPath = writeYaml('domains:\n  - name: example.test\n    recipientsFile: recipients.d\n', {
      'recipients.d/keep': '',
    });
    expect(issues(configPath)).toEqual([
      {
        path: 'domains[0].recipientsFile',
        message: `${path.join(path.dirname(configPath), 'recipients.d')} is a directory, expected a file`,
      },
    ]);
  });

  it('tls key missing names server.tls.key (and only it)', () => {
    const configPath = writeYaml(`server:\n  tls: { key: tls.key, cert: tls.crt }\n${MINIMAL}`, { 'tls.crt': 'cert' });
    expect(issues(configPath)).toEqual([
      {
        path: 'server.tls.key',
        message: `cannot read ${path.join(path.dirname(configPath), 'tls.key')}: no such file`,
      },
    ]);
  });

  it('tls with only a key is refused (STARTTLS needs both)', () => {
    expect(issues(writeYaml(`server:\n  tls: { key: tls.key }\n${MINIMAL}`, { 'tls.key': 'k' }))).toEqual([
      { path: 'server.tls.cert', message: 'required' },
    ]);
  });

  it('YAML syntax error → (yaml) issues with the parser messages, one line each, no throw', () => {
    const found = issues(writeYaml('domains:\n  - name: example.test\n   bad: [unclosed\n'));
    // the parser's own messages, each on one line
    expect(found).toEqual([
      { path: '(yaml)', message: 'Sequence item without - indicator at line 3, column 1:' },
      {
        path: '(yaml)',
        message:
          'Flow sequence in block collection must be sufficiently indented and end with a ] at line 4, column 1:',
      },
    ]);
  });

  it.each<[string, string]>([
    ['an empty file', ''],
    ['a list at the root', '- a\n- b\n'],
    ['a scalar at the root', 'hello\n'],
  ])('%s → (root) issue', (_label, text) => {
    expect(issues(writeYaml(text))).toEqual([{ path: '(root)', message: 'expected a mapping of sections' }]);
  });

  it('a missing configuration file → (file) issue', () => {
    const missing = path.join(tempDir(), 'nope.yaml');
    expect(issues(missing)).toEqual([{ path: '(file)', message: `cannot read ${missing}: no such file` }]);
  });

  it('reports every error, not only the first', () => {
    const found = issues(
      writeYaml(
        'server:\n  bogus: 1\n  maxMessageSize: 25XB\ndomains:\n  - name: example.test\n    unknownRecipients: bounce\n',
      ),
    );
    expect(found.map((i) => i.path).sort()).toEqual([
      'domains[0].unknownRecipients',
      'server.bogus',
      'server.maxMessageSize',
    ]);
  });

  // SPEC §4: an IDN matches in its Unicode and xn-- forms, so they are one domain
  it('duplicate domain written in Unicode and xn-- form is reported', () => {
    const found = issues(
      writeYaml(
        'domains:\n  - name: bücher.test\n    recipients: [info]\n  - name: xn--bcher-kva.test\n    unknownRecipients: quarantine\n',
      ),
    );
    expect(found).toEqual([{ path: 'domains[1].name', message: 'duplicate of domains[0].name' }]);
  });

  it('duplicate domain written with a trailing dot is reported', () => {
    const found = issues(writeYaml('domains:\n  - name: example.test\n  - name: example.test.\n'));
    expect(found).toEqual([{ path: 'domains[1].name', message: 'duplicate of domains[0].name' }]);
  });
});

describe('loadConfig: environment overrides (SPEC §3)', () => {
  const FILE = `server:\n  listen: { host: 0.0.0.0, port: 2525 }\n${MINIMAL}log:\n  level: info\n`;

  it('CATCHALL_GUARD_PORT, _HOST, _LOG_LEVEL and _DATA_DIR win over the file', () => {
    const dataDir = tempDir();
    const c = ok(writeYaml(FILE), {
      env: {
        CATCHALL_GUARD_PORT: '2600',
        CATCHALL_GUARD_HOST: '127.0.0.2',
        CATCHALL_GUARD_LOG_LEVEL: 'debug',
        CATCHALL_GUARD_DATA_DIR: dataDir,
      },
    });
    expect(c.server.listen).toEqual({ host: '127.0.0.2', port: 2600 });
    expect(c.log.level).toBe('debug');
    expect(c.paths.dataDir).toBe(dataDir);
    expect(c.quarantine.path).toBe(path.join(dataDir, 'quarantine'));
    expect(c.delivery.maildir.path).toBe(path.join(dataDir, 'mail'));
  });

  it('without overrides the file values hold', () => {
    const c = ok(writeYaml(FILE));
    expect(c.server.listen).toEqual({ host: '0.0.0.0', port: 2525 });
    expect(c.log.level).toBe('info');
  });

  it('overrides apply when the file has no server or log section', () => {
    const c = ok(writeYaml(MINIMAL), {
      env: { CATCHALL_GUARD_PORT: '0', CATCHALL_GUARD_HOST: '::1', CATCHALL_GUARD_LOG_LEVEL: 'warn' },
    });
    expect(c.server.listen).toEqual({ host: '::1', port: 0 });
    expect(c.log.level).toBe('warn');
  });

  it.each(['http', '', ' 25', '25 ', '-1', '65536', '99999', '2.5', '0x19'])(
    'bad CATCHALL_GUARD_PORT %j → error naming CATCHALL_GUARD_PORT',
    (port) => {
      const found = issues(writeYaml(FILE), { env: { CATCHALL_GUARD_PORT: port } });
      expect(found).toEqual([{ path: 'CATCHALL_GUARD_PORT', message: `expected a port number, got "${port}"` }]);
    },
  );

  it('a bad CATCHALL_GUARD_LOG_LEVEL is refused', () => {
    const found = issues(writeYaml(FILE), { env: { CATCHALL_GUARD_LOG_LEVEL: 'loud' } });
    expect(found).toEqual([
      {
        path: 'CATCHALL_GUARD_LOG_LEVEL',
        message: 'expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      },
    ]);
  });

  it('a relative CATCHALL_GUARD_DATA_DIR is resolved against the working directory', () => {
    const cwd = tempDir();
    const c = ok(writeYaml(MINIMAL), { cwd, env: { CATCHALL_GUARD_DATA_DIR: 'var/guard' } });
    expect(c.paths.dataDir).toBe(path.join(cwd, 'var/guard'));
    expect(c.quarantine.path).toBe(path.join(cwd, 'var/guard/quarantine'));
  });

  it('the data directory defaults to ./data of the working directory', () => {
    const cwd = tempDir();
    const c = ok(writeYaml(MINIMAL), { cwd });
    expect(c.paths.dataDir).toBe(path.join(cwd, 'data'));
    expect(c.delivery.maildir.path).toBe(path.join(cwd, 'data', 'mail'));
  });

  it('CATCHALL_GUARD_CONFIG names the file when no path is given', () => {
    const configPath = writeYaml(MINIMAL);
    const r = loadConfig({ env: { CATCHALL_GUARD_CONFIG: configPath } });
    expect(r.ok && r.config.paths.configFile).toBe(configPath);
  });
});

describe('loadConfig: relative paths (SPEC §3)', () => {
  it('recipientsFile, tls and templatesDir are resolved beside the config file, whatever the cwd', () => {
    const configPath = writeYaml(
      'server:\n  tls: { key: secrets/tls.key, cert: tls.crt }\ndomains:\n  - name: example.test\n    recipientsFile: lists/example.test.recipients\nnotices:\n  templatesDir: templates\n',
      { 'secrets/tls.key': 'k', 'tls.crt': 'c', 'lists/example.test.recipients': 'carol\n', 'templates/keep': '' },
    );
    const dir = path.dirname(configPath);
    const cwd = tempDir();
    const c = ok(configPath, { cwd });
    expect(c.domains[0]?.recipientsFile).toBe(path.join(dir, 'lists/example.test.recipients'));
    expect(c.server.tls).toEqual({ key: path.join(dir, 'secrets/tls.key'), cert: path.join(dir, 'tls.crt') });
    expect(c.notices.templatesDir).toBe(path.join(dir, 'templates'));
    expect(c.paths).toEqual({ configFile: configPath, configDir: dir, dataDir: path.join(cwd, 'data') });
  });

  it('quarantine.path and delivery.maildir.path are resolved under the data dir', () => {
    const dataDir = tempDir();
    const c = ok(writeYaml(`${MINIMAL}quarantine:\n  path: q/store\ndelivery:\n  maildir: { path: boxes }\n`), {
      env: { CATCHALL_GUARD_DATA_DIR: dataDir },
    });
    expect(c.quarantine.path).toBe(path.join(dataDir, 'q/store'));
    expect(c.delivery.maildir.path).toBe(path.join(dataDir, 'boxes'));
  });

  it('absolute paths are kept', () => {
    const abs = tempDir();
    const list = path.join(abs, 'r.txt');
    writeFileSync(list, 'x\n');
    const c = ok(
      writeYaml(`domains:\n  - name: example.test\n    recipientsFile: ${list}\nquarantine:\n  path: ${abs}/q\n`),
      { env: { CATCHALL_GUARD_DATA_DIR: tempDir() } },
    );
    expect(c.domains[0]?.recipientsFile).toBe(list);
    expect(c.quarantine.path).toBe(path.join(abs, 'q'));
  });

  it('a relative --config path is resolved against the working directory', () => {
    const configPath = writeYaml(MINIMAL);
    const c = ok(path.basename(configPath), { cwd: path.dirname(configPath) });
    expect(c.paths.configFile).toBe(configPath);
  });

  it('defaults, units, names and mailboxes come out normalized and frozen', () => {
    const c = ok(
      writeYaml(
        'server:\n  maxMessageSize: 1.5MB\n  greetDelay: 100ms\ndomains:\n  - name: Bücher.Test.\n    unknownRecipients: observe\n    observeMailbox: Info\n',
      ),
    );
    expect(c.server.maxMessageSize).toBe(Math.round(1.5 * 1024 * 1024));
    expect(c.server.greetDelay).toBe(100);
    expect(c.server.socketTimeout).toBe(60_000);
    expect(c.quarantine.retention).toBe(14 * 86_400_000);
    expect(c.domains[0]?.name).toBe('xn--bcher-kva.test');
    expect(c.domains[0]?.observeMailbox).toBe('info@xn--bcher-kva.test');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.server.listen)).toBe(true);
    expect(Object.isFrozen(c.domains[0])).toBe(true);
  });
});

describe.concurrent('CLI (built dist/main.js)', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await buildDist();
  }, 200_000);

  /** Runs the CLI asynchronously, so the worker stays responsive while several run at once. */
  async function cli(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const r = await runCli(args, { env });
    return { status: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  const DEFAULT = path.join(ROOT, 'config', 'default.yaml');

  /** What every bad usage prints after its one-line reason, and --help prints alone. */
  const USAGE = [
    'usage: catchall-guard [command] [--config PATH]',
    '',
    'commands:',
    '  serve                                 run the SMTP server (default)',
    '  check ADDRESS [--from S] [--rrvs D]   print the rule, the decision and the SMTP reply for a recipient',
    '  config validate                       print "ok" or each error with its key path',
    '  quarantine list [--json] [--identity FILE]',
    '                                        entries, newest first (sealed Subjects with --identity)',
    '  quarantine show ID [--raw] [--identity FILE]',
    '                                        metadata, or the raw message (sealed entries: --identity)',
    '  quarantine release ID --to ADDRESS [--identity FILE]',
    '                                        deliver through the configured delivery, then delete',
    '  quarantine delete ID                  delete one entry',
    '                                        (show, release, delete: --as NAME names who, for the access record)',
    '  quarantine purge [--older-than DUR]   delete expired entries (or those older than DUR)',
    '  report [--log FILE] [--json]          unknown recipients seen in the log (stdin when no --log)',
    '  probe                                 exit 0 when the SMTP port greets with 220 and the data',
    '                                        directories can store a message (HEALTHCHECK)',
    '  dkim keygen --domain D --selector S [--out FILE]',
    '                                        write a DKIM key for notices, print its DNS record',
    '  doctor [--ip ADDRESS]                 check the DNS records mail and notices depend on (dns.servers)',
    '  version                               print "catchall-guard <version>" (also --version, -V)',
    '',
    'config: --config PATH, else $CATCHALL_GUARD_CONFIG, else config/default.yaml',
    '',
  ].join('\n');

  /** exit 2: the reason on one line, then the usage, nothing on stdout. */
  const badUsage = (reason: string): { status: number; stdout: string; stderr: string } => ({
    status: 2,
    stdout: '',
    stderr: `catchall-guard: ${reason}\n${USAGE}`,
  });

  /** exit 2: the file named once, then one line per issue, nothing on stdout (no stack trace either). */
  const invalid = (file: string, ...lines: string[]): { status: number; stdout: string; stderr: string } => ({
    status: 2,
    stdout: '',
    stderr: `catchall-guard: invalid configuration (${file}):\n${lines.map((l) => `${l}\n`).join('')}`,
  });

  const ENUM_ISSUE = 'domains[0].unknownRecipients: expected one of reject, reject-after-data, quarantine, observe';

  describe('config validate', () => {
    it('prints ok and exits 0 for config/default.yaml', async () => {
      expect(await cli(['config', 'validate', '--config', 'config/default.yaml'])).toEqual({
        status: 0,
        stdout: 'ok\n',
        stderr: '',
      });
    });

    it('uses config/default.yaml when no --config is given', async () => {
      expect(await cli(['config', 'validate'])).toEqual({ status: 0, stdout: 'ok\n', stderr: '' });
    });

    it('wrong enum: exit 2, the key path and the allowed values, no stack trace', async () => {
      const file = writeYaml('domains:\n  - name: example.test\n    unknownRecipients: bounce\n');
      expect(await cli(['config', 'validate', '--config', file])).toEqual(invalid(file, ENUM_ISSUE));
    });

    it('several errors: one line each', async () => {
      const file = writeYaml(
        'server:\n  bogus: 1\n  maxMessageSize: 25XB\ndomains:\n  - name: example.test\n    unknownRecipients: bounce\n',
      );
      expect(await cli(['config', 'validate', '--config', file])).toEqual(
        invalid(
          file,
          'server.maxMessageSize: invalid size "25XB": use bytes or a unit B, KB, MB, GB',
          'server.bogus: unknown key',
          ENUM_ISSUE,
        ),
      );
    });

    it.each<[string, string, (dir: string) => string[]]>([
      [
        'YAML syntax error',
        'domains:\n  - name: example.test\n   bad: [unclosed\n',
        () => [
          '(yaml): Sequence item without - indicator at line 3, column 1:',
          '(yaml): Flow sequence in block collection must be sufficiently indented and end with a ] at line 4, column 1:',
        ],
      ],
      [
        'unreadable recipientsFile',
        'domains:\n  - name: example.test\n    recipientsFile: missing.recipients\n',
        (dir) => [`domains[0].recipientsFile: cannot read ${path.join(dir, 'missing.recipients')}: no such file`],
      ],
      [
        'duration with a bad unit',
        `quarantine:\n  retention: 3 fortnights\n${MINIMAL}`,
        () => ['quarantine.retention: invalid duration "3 fortnights": use a unit ms, s, m, h, d or w'],
      ],
    ])('%s: exit 2, named, no stack trace', async (_label, yaml, expected) => {
      const file = writeYaml(yaml);
      expect(await cli(['config', 'validate', '--config', file])).toEqual(
        invalid(file, ...expected(path.dirname(file))),
      );
    });

    it('a missing configuration file: exit 2', async () => {
      const missing = path.join(tempDir(), 'nope.yaml');
      expect(await cli(['config', 'validate', '--config', missing])).toEqual(
        invalid(missing, `(file): cannot read ${missing}: no such file`),
      );
    });

    it('a bad CATCHALL_GUARD_PORT: exit 2 naming the variable', async () => {
      expect(await cli(['config', 'validate', '--config', DEFAULT], { CATCHALL_GUARD_PORT: 'smtp' })).toEqual(
        invalid(DEFAULT, 'CATCHALL_GUARD_PORT: expected a port number, got "smtp"'),
      );
    });

    it('CATCHALL_GUARD_CONFIG is used when --config is absent', async () => {
      const file = writeYaml('domains:\n  - name: example.test\n    unknownRecipients: bounce\n');
      expect(await cli(['config', 'validate'], { CATCHALL_GUARD_CONFIG: file })).toEqual(invalid(file, ENUM_ISSUE));
    });
  });

  describe('check ADDRESS', () => {
    it.each<[string, string, string]>([
      ['alice@example.test', 'accept', '250 2.1.5 Accepted'],
      ['<Alice@Example.TEST>', 'accept', '250 2.1.5 Accepted'],
      ['alice+news@example.test', 'accept', '250 2.1.5 Accepted'],
      ['shop-books@example.test', 'accept', '250 2.1.5 Accepted'],
      ['carol@example.test', 'accept', '250 2.1.5 Accepted'], // from example.test.recipients beside the config
      ['postmaster', 'accept', '250 2.1.5 Accepted'],
      ['zed@example.test', 'reject', '550 5.1.1 <zed@example.test>: recipient address rejected: user unknown'],
      ['someone@other.test', 'relay-denied', '554 5.7.1 <someone@other.test>: relay access denied'],
      [
        'bob%other.test@example.test',
        'relay-denied',
        '550 5.7.1 <bob%other.test@example.test>: source routing and percent hacks are not supported: relay access denied',
      ],
      ['no-at-sign', 'invalid', '501 5.1.3 bad recipient address syntax: no local-part or domain'],
    ])('%s → %s, %s', async (address, decision, reply) => {
      const r = await cli(['check', address, '--config', 'config/default.yaml']);
      expect(r).toEqual({ status: 0, stdout: `decision: ${decision}\nreply: ${reply}\n`, stderr: '' });
    });

    it('follows the configuration given (quarantine mode)', async () => {
      const file = writeYaml('domains:\n  - name: example.test\n    unknownRecipients: quarantine\n');
      expect(await cli(['check', 'zed@example.test', '--config', file])).toEqual({
        status: 0,
        stdout: 'decision: quarantine\nreply: 250 2.1.5 Accepted\n',
        stderr: '',
      });
    });

    it('an invalid configuration: exit 2', async () => {
      const file = writeYaml('domains:\n  - name: example.test\n    unknownRecipients: bounce\n');
      expect(await cli(['check', 'alice@example.test', '--config', file])).toEqual(invalid(file, ENUM_ISSUE));
    });

    it('no address: exit 2 with usage', async () => {
      expect(await cli(['check', '--config', 'config/default.yaml'])).toEqual(badUsage('check takes one ADDRESS'));
    });

    it('two addresses: exit 2', async () => {
      expect(await cli(['check', 'a@example.test', 'b@example.test', '--config', 'config/default.yaml'])).toEqual(
        badUsage('check takes one ADDRESS'),
      );
    });
  });

  describe('serve, help and bad usage', () => {
    it('unknown command: exit 2', async () => {
      expect(await cli(['frobnicate', '--config', 'config/default.yaml'])).toEqual(
        badUsage('unknown command "frobnicate"'),
      );
    });

    it('unknown option: exit 2', async () => {
      expect(await cli(['config', 'validate', '--bogus'])).toEqual(
        badUsage(
          `Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- "--bogus"`,
        ),
      );
    });

    it('config without validate: exit 2', async () => {
      expect(await cli(['config', '--config', 'config/default.yaml'])).toEqual(badUsage('usage: config validate'));
      expect(await cli(['config', 'check', '--config', 'config/default.yaml'])).toEqual(
        badUsage('usage: config validate'),
      );
    });

    it('serve with port 0: logs `listening` with the real port as JSON, answers, exits 0 on SIGTERM', async () => {
      const file = writeYaml(
        `server:\n  hostname: mx.cli.test\n  listen: { host: 127.0.0.1, port: 0 }\n  greetDelay: 0\n${MINIMAL}notices:\n  enabled: false\n`,
      );
      const child = spawn(process.execPath, [MAIN_JS, 'serve', '--config', file], {
        cwd: ROOT,
        env: { ...cleanEnv(), CATCHALL_GUARD_DATA_DIR: tempDir() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no listening line within 30 s')), 30_000);
          createInterface({ input: child.stdout }).on('line', (line) => {
            let parsed: { event?: unknown; port?: unknown };
            try {
              parsed = JSON.parse(line) as { event?: unknown; port?: unknown };
            } catch {
              return;
            }
            if (parsed.event === 'listening' && typeof parsed.port === 'number') {
              clearTimeout(timer);
              resolve(parsed.port);
            }
          });
        });
        expect(port).toBeGreaterThan(0);
        const { client, greeting } = await RawSmtp.connect(port);
        expect(greeting?.line).toBe('220 mx.cli.test ESMTP catchall-guard');
        expect((await client.cmd('QUIT')).line).toBe('221 2.0.0 Bye');
        client.close();
      } finally {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      expect(await exited).toBe(0);
      clearTimeout(timer);
    });

    it('--help: exit 0 with usage', async () => {
      expect(await cli(['--help'])).toEqual({ status: 0, stdout: USAGE, stderr: '' });
    });
  });
});
