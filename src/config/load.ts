// Reads the YAML file, applies the environment overrides, validates, resolves paths, freezes.
import { readFileSync, accessSync, statSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { toAsciiDomain } from '../address/parse.js';
import { loadRecipientsFile } from '../directory/load-recipients-file.js';
import { dkimKeyFileProblem } from '../notice/dkim-sign.js';
import { INSTANCE_ID_ENV, instanceIdProblem } from '../storage/instance-id.js';
import { parseDocument } from 'yaml';
import { configSchema, LOG_LEVELS, type FileConfig } from './schema.js';
import { issueFromZod, type ConfigIssue } from './issues.js';
import { parseListenAddress } from './listen-address.js';

export interface Config extends FileConfig {
  readonly paths: {
    readonly configFile: string;
    readonly configDir: string;
    readonly dataDir: string;
  };
}

export type LoadResult =
  { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

export interface LoadOptions {
  readonly configPath?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export const DEFAULT_CONFIG_PATH = 'config/default.yaml';

export function resolveConfigPath(opts: LoadOptions): string {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  return path.resolve(cwd, opts.configPath ?? env['CATCHALL_GUARD_CONFIG'] ?? DEFAULT_CONFIG_PATH);
}

export function loadConfig(opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const configFile = resolveConfigPath(opts);
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (err) {
    return fail('(file)', `cannot read ${configFile}: ${describeFsError(err)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({ path: '(yaml)', message: e.message.split('\n')[0] ?? e.message })),
    };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return fail('(root)', 'expected a mapping of sections');
  const envIssues = applyEnvOverrides(raw as Record<string, unknown>, env);
  if (envIssues.length > 0) return { ok: false, issues: envIssues };

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues.flatMap(issueFromZod) };

  const configDir = path.dirname(configFile);
  const dataDir = resolveDataDir(parsed.data.dataDir, { env, cwd, configDir });
  return resolveAndCheck(parsed.data, { configFile, configDir, dataDir });
}

/**
 * SPEC §3: CATCHALL_GUARD_DATA_DIR (relative to the working directory), else the file's `dataDir`
 * (relative to the file's directory: a CLI call from another directory must find the server's data),
 * else ./data of the working directory.
 */
export function resolveDataDir(
  fromFile: string | undefined,
  at: { readonly env: NodeJS.ProcessEnv; readonly cwd: string; readonly configDir: string },
): string {
  const fromEnv = at.env['CATCHALL_GUARD_DATA_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(at.cwd, fromEnv);
  if (fromFile !== undefined) return path.resolve(at.configDir, fromFile);
  return path.resolve(at.cwd, 'data');
}

function fail(p: string, message: string): LoadResult {
  return { ok: false, issues: [{ path: p, message }] };
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? 'unreadable';
}

function ensureObject(parent: Record<string, unknown>, key: string): Record<string, unknown> | null {
  const v = parent[key];
  if (v === undefined || v === null) {
    const fresh: Record<string, unknown> = {};
    parent[key] = fresh;
    return fresh;
  }
  return typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** SPEC §3: the four environment variables win over the file; CATCHALL_GUARD_HTTP_LISTEN too (the container's metrics). */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const port = env['CATCHALL_GUARD_PORT'];
  const host = env['CATCHALL_GUARD_HOST'];
  const level = env['CATCHALL_GUARD_LOG_LEVEL'];
  if (port !== undefined || host !== undefined) {
    const server = ensureObject(raw, 'server');
    const listen = server && ensureObject(server, 'listen');
    if (!listen) return issues; // the schema reports the wrong type
    if (port !== undefined) {
      if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
        issues.push({ path: 'CATCHALL_GUARD_PORT', message: `expected a port number, got "${port}"` });
      else listen['port'] = Number(port);
    }
    if (host !== undefined) listen['host'] = host;
  }
  // the container's opt-in metrics endpoint: it must listen beyond loopback for a Prometheus outside
  const httpListen = env['CATCHALL_GUARD_HTTP_LISTEN'];
  if (httpListen !== undefined) {
    const r = parseListenAddress(httpListen);
    const http = ensureObject(raw, 'http');
    if (!r.ok) issues.push({ path: 'CATCHALL_GUARD_HTTP_LISTEN', message: r.error });
    else if (http) http['listen'] = { host: r.host, port: r.port };
  }
  // a container image or a systemd drop-in sizes the worker processes to its host without editing the file
  const workers = env['CATCHALL_GUARD_WORKERS'];
  if (workers !== undefined) {
    const server = ensureObject(raw, 'server');
    if (workers !== 'auto' && !/^\d{1,3}$/.test(workers))
      issues.push({
        path: 'CATCHALL_GUARD_WORKERS',
        message: `expected a number of processes or auto, got "${workers}"`,
      });
    else if (server) server['workers'] = workers === 'auto' ? 'auto' : Number(workers);
  }
  // read by storage/instance-id.ts itself; judged here so a bad one stops the start like a bad key
  const instanceId = env[INSTANCE_ID_ENV];
  const instanceProblem = instanceId === undefined ? null : instanceIdProblem(instanceId);
  if (instanceProblem !== null) issues.push({ path: INSTANCE_ID_ENV, message: instanceProblem });
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      issues.push({
        path: 'CATCHALL_GUARD_LOG_LEVEL',
        message: `expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`,
      });
      return issues;
    }
    const log = ensureObject(raw, 'log');
    if (log) log['level'] = level;
  }
  return issues;
}

function resolveAndCheck(cfg: FileConfig, paths: Config['paths']): LoadResult {
  const issues: ConfigIssue[] = [];
  const beside = (p: string): string => path.resolve(paths.configDir, p);
  const data = (p: string): string => path.resolve(paths.dataDir, p);
  const readable = (p: string, keyPath: string, kind: 'file' | 'directory' = 'file'): void => {
    try {
      accessSync(p, fsConstants.R_OK);
      const isDir = statSync(p).isDirectory();
      if (kind === 'file' && isDir) issues.push({ path: keyPath, message: `${p} is a directory, expected a file` });
      if (kind === 'directory' && !isDir) issues.push({ path: keyPath, message: `${p} is not a directory` });
    } catch (err) {
      issues.push({ path: keyPath, message: `cannot read ${p}: ${describeFsError(err)}` });
    }
  };

  const domains = cfg.domains.map((d, i) => {
    const ascii = toAsciiDomain(d.name);
    if (!ascii || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(ascii)) {
      issues.push({ path: `domains[${i}].name`, message: `"${d.name}" is not a valid domain name` });
    }
    const recipientsFile = d.recipientsFile === undefined ? undefined : beside(d.recipientsFile);
    if (recipientsFile) {
      const before = issues.length;
      readable(recipientsFile, `domains[${i}].recipientsFile`);
      // the file is configuration too: a bad line stops the start (and a SIGHUP reload) like a bad key
      const r = issues.length === before ? loadRecipientsFile(recipientsFile, { ...d, name: ascii || d.name }) : null;
      if (r && !r.ok) for (const message of r.problems) issues.push({ path: `domains[${i}].recipientsFile`, message });
    }
    let observeMailbox = d.observeMailbox;
    if (observeMailbox !== undefined) {
      const at = observeMailbox.lastIndexOf('@');
      observeMailbox =
        at < 0
          ? `${observeMailbox.toLowerCase()}@${ascii}`
          : `${observeMailbox.slice(0, at).toLowerCase()}@${toAsciiDomain(observeMailbox.slice(at + 1))}`;
    }
    return { ...d, name: ascii || d.name, recipientsFile, observeMailbox };
  });
  // duplicates are judged on the normalized name: `bücher.test`, `xn--bcher-kva.test` and `BÜCHER.test.` are one domain
  const firstIndex = new Map<string, number>();
  domains.forEach((d, i) => {
    const first = firstIndex.get(d.name);
    if (first !== undefined)
      issues.push({ path: `domains[${i}].name`, message: `duplicate of domains[${first}].name` });
    else firstIndex.set(d.name, i);
  });
  domains.forEach((d, i) => {
    if (d.observeMailbox && !domains.some((o) => d.observeMailbox?.endsWith(`@${o.name}`))) {
      issues.push({ path: `domains[${i}].observeMailbox`, message: 'must be a mailbox of a served domain' });
    }
  });

  let tls = cfg.server.tls;
  if (tls) {
    tls = { key: beside(tls.key), cert: beside(tls.cert) };
    readable(tls.key, 'server.tls.key');
    readable(tls.cert, 'server.tls.cert');
  }
  const templatesDir = cfg.notices.templatesDir === undefined ? undefined : beside(cfg.notices.templatesDir);
  if (templatesDir) readable(templatesDir, 'notices.templatesDir', 'directory');
  let dkim = cfg.notices.dkim;
  if (dkim) {
    dkim = { ...dkim, privateKey: beside(dkim.privateKey) };
    const before = issues.length;
    readable(dkim.privateKey, 'notices.dkim.privateKey');
    // a key that cannot sign would otherwise only show at the first notice, deferred until someone looks
    const problem = issues.length === before ? dkimKeyFileProblem(dkim.privateKey) : null;
    if (problem)
      issues.push({
        path: 'notices.dkim.privateKey',
        message: `${dkim.privateKey} is not a usable DKIM private key: ${problem}`,
      });
  }

  let deliverySmtp = cfg.delivery.smtp;
  if (deliverySmtp?.tls.ca !== undefined) {
    const ca = beside(deliverySmtp.tls.ca);
    deliverySmtp = { ...deliverySmtp, tls: { ...deliverySmtp.tls, ca } };
    const before = issues.length;
    readable(ca, 'delivery.smtp.tls.ca');
    // a wrong file would otherwise only show as upstream-tls 451s, with every sender retrying
    if (issues.length === before && !readFileSync(ca, 'latin1').includes('-----BEGIN CERTIFICATE-----'))
      issues.push({ path: 'delivery.smtp.tls.ca', message: `${ca} holds no PEM certificate` });
  }

  if (issues.length > 0) return { ok: false, issues };
  const config: Config = {
    ...cfg,
    server: { ...cfg.server, tls },
    domains,
    delivery: {
      ...cfg.delivery,
      maildir: { path: data(cfg.delivery.maildir.path) },
      ...(deliverySmtp ? { smtp: deliverySmtp } : {}),
    },
    quarantine: { ...cfg.quarantine, path: data(cfg.quarantine.path) },
    log: { ...cfg.log, file: cfg.log.file && { ...cfg.log.file, path: data(cfg.log.file.path) } },
    notices: { ...cfg.notices, templatesDir, dkim },
    paths,
  };
  return { ok: true, config: deepFreeze(config) };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
