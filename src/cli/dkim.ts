// `dkim keygen --domain D --selector S [--out FILE]` (SPEC §8): a new key for signing notices, the DNS
// record that publishes it and the configuration line that uses it. The configuration is not loaded: a
// config that already names the key it is about to get would not validate yet. Without --out the key
// goes to `dkim/<domain>.<selector>.key` beside the configuration file, where `privateKey` is resolved.
import { generateKeyPair } from 'node:crypto';
import { chown, mkdir, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { toAsciiDomain } from '../address/parse.js';
import { errorCodeOrText } from '../observability/error-text.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type ExitCode } from './exit-codes.js';

export interface DkimCliOptions {
  readonly domain: string | undefined;
  readonly selector: string | undefined;
  readonly out: string | undefined;
  /** The configuration file's path (resolved; it need not exist): the default key goes beside it. */
  readonly configFile: string;
  readonly cwd?: string;
}

export interface DkimCliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIo: DkimCliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export const DKIM_KEY_BITS = 2048;
/** RFC 1035 §3.3.14: one character-string of a TXT record holds at most 255 octets. */
export const TXT_STRING_MAX = 255;

/** The same rule as `notices.dkim.selector` in the schema: labels of letters, digits and hyphens. */
const SELECTOR = /^[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9][A-Za-z0-9-]*)*$/;
const DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** The TXT value split into quoted strings of at most 255 characters, as a zone file needs them. */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += TXT_STRING_MAX) parts.push(`"${value.slice(i, i + TXT_STRING_MAX)}"`);
  return parts.join(' ');
}

/** The zone-file line for a public key given as DER SubjectPublicKeyInfo (what OpenDKIM publishes). */
export function dkimTxtRecord(domain: string, selector: string, spkiDer: Buffer): string {
  return `${selector}._domainkey.${domain}. IN TXT ${txtStrings(`v=DKIM1; k=rsa; p=${spkiDer.toString('base64')}`)}`;
}

/** A path as the config should name it: relative when it lies beside the config, else absolute. */
function configRelative(file: string, configDir: string): string {
  const rel = path.relative(configDir, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

/**
 * The directories keygen made (`first` down to `leaf`) take the group of the directory they were made
 * in, as under a setgid directory: beside /etc/catchall-guard (group catchall-guard) the service can then
 * reach the key once the file itself is given to the group (chgrp, chmod 0640: it is written 0600, SPEC
 * §8); a 0700 directory owned by root kept it out whatever the file's mode. Best effort: a user who is
 * not in that group keeps their own, and the directory is 0750 either way (never world-readable).
 */
async function giveParentGroup(first: string, leaf: string): Promise<void> {
  const { gid } = await stat(path.dirname(first));
  for (let dir = leaf; ; dir = path.dirname(dir)) {
    await chown(dir, -1, gid).catch(() => undefined);
    if (dir === first || dir === path.dirname(dir)) return;
  }
}

/**
 * Runs `dkim …`; a string is a usage problem for the caller to print with the usage text. Refusing to
 * overwrite an existing file is exit 2 as well (the operator asked for something the tool will not do),
 * a write that fails is exit 1.
 */
export async function runDkim(
  args: readonly string[],
  opts: DkimCliOptions,
  io: DkimCliIo = processIo,
): Promise<ExitCode | string> {
  if (args.length !== 1 || args[0] !== 'keygen') return 'usage: dkim keygen --domain D --selector S [--out FILE]';
  if (!opts.domain) return 'dkim keygen needs --domain D';
  if (!opts.selector) return 'dkim keygen needs --selector S';
  const domain = toAsciiDomain(opts.domain);
  if (!DOMAIN.test(domain)) return `dkim keygen: "${opts.domain}" is not a valid domain name`;
  if (!SELECTOR.test(opts.selector))
    return `dkim keygen: "${opts.selector}" is not a valid selector (letters, digits, hyphens, dots; e.g. cg2026)`;
  const selector = opts.selector;
  const cwd = opts.cwd ?? process.cwd();
  const configDir = path.dirname(path.resolve(cwd, opts.configFile));
  const file = opts.out ? path.resolve(cwd, opts.out) : path.join(configDir, 'dkim', `${domain}.${selector}.key`);

  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: DKIM_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

  try {
    const created = await mkdir(path.dirname(file), { recursive: true, mode: 0o750 });
    if (created !== undefined) await giveParentGroup(created, path.dirname(file));
  } catch (err) {
    io.err(`catchall-guard: dkim keygen: cannot create ${path.dirname(file)}: ${errorCodeOrText(err)}\n`);
    return EXIT_FAILURE;
  }
  let handle;
  try {
    // wx: an existing key may already be published and in use; replacing it would break every signature
    handle = await open(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException | null)?.code === 'EEXIST') {
      io.err(`catchall-guard: dkim keygen: ${file} exists; refusing to overwrite it (use --out for another file)\n`);
      return EXIT_USAGE;
    }
    io.err(`catchall-guard: dkim keygen: cannot create ${file}: ${errorCodeOrText(err)}\n`);
    return EXIT_FAILURE;
  }
  try {
    await handle.writeFile(privateKey, 'utf8');
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    // a half-written key would be refused by the next run as "exists" and by the config as unusable
    await unlink(file).catch(() => undefined);
    io.err(`catchall-guard: dkim keygen: cannot write ${file}: ${errorCodeOrText(err)}\n`);
    return EXIT_FAILURE;
  }

  const configFile = path.resolve(cwd, opts.configFile);
  io.out(
    [
      `private key written to ${file} (RSA ${DKIM_KEY_BITS}, mode 0600)`,
      'DNS record to publish:',
      dkimTxtRecord(domain, selector, publicKey),
      `then add under notices: in ${configFile}:`,
      `  dkim: { selector: ${selector}, privateKey: ${JSON.stringify(configRelative(file, configDir))} }`,
      '',
    ].join('\n'),
  );
  return EXIT_OK;
}
