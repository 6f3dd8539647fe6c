// `catchall-guard --version` / `-V` / `version`: the installed package's name and version.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDist, ROOT } from '../helpers/build-dist.js';
import { runCli } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

beforeAll(() => buildDist(), 180_000);

describe('version', () => {
  it.each([[['--version']], [['-V']], [['version']], [['--version', '--config', '/nonexistent.yaml']]])(
    '%j prints "catchall-guard <package.json version>" and exits 0, without reading a configuration',
    async (args) => {
      const r = await runCli(args);
      expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(r).toMatchObject({ code: 0, stdout: `catchall-guard ${pkg.version}\n`, stderr: '' });
    },
  );

  it('version with an argument is bad usage: exit 2', async () => {
    const r = await runCli(['version', 'now']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^catchall-guard: version takes no arguments\nusage:/);
    expect(r.stdout).toBe('');
  });
});
