// `catchall-guard --version`: the name and version of the installed package, read from its
// package.json (dist/cli/ → the package root), so the answer cannot drift from what was installed.
import { readFileSync } from 'node:fs';

export function versionText(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    name?: unknown;
    version?: unknown;
  };
  const name = typeof pkg.name === 'string' ? pkg.name : 'catchall-guard';
  const version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  return `${name} ${version}`;
}
