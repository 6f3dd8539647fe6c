// .dockerignore and the image's `COPY config ./config`: the build context carries the shipped config
// (the image starts on it when nothing is mounted) and nothing an operator put beside it. A DKIM key
// written by `dkim keygen` into config/dkim/ was baked into the image (walkthrough #4). Matched with
// @balena/dockerignore, a port of Docker's own matcher, over the files git ships and the files an
// operator's checkout grows.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import balenaDockerignore from '@balena/dockerignore';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build-dist.js';

// a CommonJS module whose factory is also its own `default` (what its typings describe)
const dockerignore = balenaDockerignore.default;
const rules = dockerignore().add(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));
const inContext = (file: string): boolean => !rules.ignores(file);

describe('.dockerignore', () => {
  it('keeps every shipped config file and what the Dockerfile copies', () => {
    const shipped = execFileSync('git', ['ls-files', 'config'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f !== '');
    expect(shipped).toEqual(expect.arrayContaining(['config/default.yaml', 'config/templates/en.txt']));
    for (const f of [...shipped, 'package.json', 'package-lock.json', 'tsconfig.json', 'src/main.ts'])
      expect(inContext(f), f).toBe(true);
  });

  it('leaves out the DKIM key from dkim keygen, other keys and an operator’s own files under config/', () => {
    for (const f of [
      'config/dkim/example.test.cg2026.key',
      'config/dkim',
      'config/owner.example.recipients',
      'config/age-identity.txt',
      'config/tls/privkey.pem',
      'config/templates/backup.key',
      'notices.key',
      'data/quarantine/x.json',
      'node_modules/pino/package.json',
      '.env',
    ])
      expect(inContext(f), f).toBe(false);
  });
});
