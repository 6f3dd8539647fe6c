#!/usr/bin/env node
// argv → command. Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
// The only place that calls process.exit or prints a final error.
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type ExitCode } from './cli/exit-codes.js';
import { errorText } from './observability/error-text.js';
import { parseArgs } from 'node:util';
import { loadConfig, resolveConfigPath, type Config } from './config/load.js';
import { formatIssues } from './config/issues.js';
import { openLogger } from './observability/logger.js';
// commands are imported when used: `probe` (the container's HEALTHCHECK) and `check` stay fast

const USAGE = `usage: catchall-guard [command] [--config PATH]

commands:
  serve                                 run the SMTP server (default)
  check ADDRESS [--from S] [--rrvs D]   print the rule, the decision and the SMTP reply for a recipient
  config validate                       print "ok" or each error with its key path
  quarantine list [--json] [--identity FILE]
                                        entries, newest first (sealed Subjects with --identity)
  quarantine show ID [--raw] [--identity FILE]
                                        metadata, or the raw message (sealed entries: --identity)
  quarantine release ID --to ADDRESS [--identity FILE]
                                        deliver through the configured delivery, then delete
  quarantine delete ID                  delete one entry
                                        (show, release, delete: --as NAME names who, for the access record)
  quarantine purge [--older-than DUR]   delete expired entries (or those older than DUR)
  report [--log FILE] [--json]          unknown recipients seen in the log (stdin when no --log)
  probe                                 exit 0 when the SMTP port greets with 220 and the data
                                        directories can store a message (HEALTHCHECK)
  dkim keygen --domain D --selector S [--out FILE]
                                        write a DKIM key for notices, print its DNS record
  doctor [--ip ADDRESS]                 check the DNS records mail and notices depend on (dns.servers)
  version                               print "catchall-guard <version>" (also --version, -V)

config: --config PATH, else $CATCHALL_GUARD_CONFIG, else config/default.yaml`;

class UsageError extends Error {}

function loadOrExplain(configPath: string | undefined): Config | ExitCode {
  const r = loadConfig({ configPath });
  if (r.ok) return r.config;
  process.stderr.write(
    `catchall-guard: invalid configuration (${resolveConfigPath({ configPath })}):\n${formatIssues(r.issues)}\n`,
  );
  return EXIT_USAGE;
}

async function run(argv: string[]): Promise<ExitCode> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        raw: { type: 'boolean' },
        to: { type: 'string' },
        'older-than': { type: 'string' },
        identity: { type: 'string', short: 'i' },
        as: { type: 'string' },
        log: { type: 'string' },
        domain: { type: 'string' },
        selector: { type: 'string' },
        out: { type: 'string' },
        ip: { type: 'string' },
        from: { type: 'string' },
        rrvs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (values.version || positionals[0] === 'version') {
    if (positionals.length > 1) throw new UsageError('version takes no arguments');
    process.stdout.write(`${(await import('./cli/version.js')).versionText()}\n`);
    return EXIT_OK;
  }
  const [command = 'serve', ...rest] = positionals;
  switch (command) {
    case 'serve': {
      if (rest.length) throw new UsageError(`serve takes no arguments`);
      const config = loadOrExplain(values.config);
      if (typeof config === 'number') {
        // a cluster worker's IPC channel would keep it alive (and a disconnect exits 0): exit with the
        // code, the primary logs it and retries later
        if (process.send) process.exit(config);
        return config;
      }
      const configPath = resolveConfigPath({ configPath: values.config });
      // server.workers above 1: this process is the primary, or one of the workers it forked (src/cluster/)
      const role = (await import('./cluster/role.js')).serveRole(config);
      const { runServe } = await import('./cli/serve.js');
      const code =
        role.kind === 'primary'
          ? await (await import('./cluster/primary.js')).runPrimary(config, configPath, role.workers)
          : role.kind === 'worker'
            ? await (await import('./cluster/worker.js')).runWorker(config, configPath, role.id)
            : await runServe(config, configPath, await openLogger(config.log));
      // the drain is over and the log flushed: a socket still open (a notice peer that never answers)
      // must not keep the process alive past its orchestrator's patience
      process.exit(code);
    }
    case 'check': {
      if (rest.length !== 1 || !rest[0]) throw new UsageError('check takes one ADDRESS');
      const config = loadOrExplain(values.config);
      if (typeof config === 'number') return config;
      // with verify.upstream, a local-part the directory does not know is asked of the upstream (one probe)
      const { checkAddressWithUpstream } = await import('./cli/check-upstream.js');
      const r = await checkAddressWithUpstream(config, rest[0], { from: values.from, rrvs: values.rrvs });
      process.stdout.write(
        `${r.rule ? `rule: ${r.rule}\n` : ''}${r.upstream ? `upstream: ${r.upstream}\n` : ''}decision: ${r.decision}\nreply: ${r.reply}\n`,
      );
      return EXIT_OK;
    }
    case 'config': {
      if (rest.length !== 1 || rest[0] !== 'validate') throw new UsageError('usage: config validate');
      const config = loadOrExplain(values.config);
      if (typeof config === 'number') return config;
      process.stdout.write('ok\n');
      return EXIT_OK;
    }
    case 'quarantine': {
      const config = loadOrExplain(values.config);
      if (typeof config === 'number') return config;
      const { runQuarantine } = await import('./cli/quarantine.js');
      return runQuarantine(config, rest, {
        json: values.json ?? false,
        raw: values.raw ?? false,
        to: values.to,
        olderThan: values['older-than'],
        identity: values.identity,
        as: values.as,
      });
    }
    case 'report':
      if (rest.length) throw new UsageError('report takes no arguments');
      return (await import('./cli/report.js')).runReport({ logFile: values.log, json: values.json ?? false });
    case 'probe': {
      if (rest.length) throw new UsageError('probe takes no arguments');
      const config = loadOrExplain(values.config);
      if (typeof config === 'number') return config;
      return (await import('./cli/probe.js')).runProbe(config);
    }
    case 'dkim': {
      const { runDkim } = await import('./cli/dkim.js');
      const configFile = resolveConfigPath({ configPath: values.config });
      const { domain, selector, out } = values;
      const r = await runDkim(rest, { domain, selector, out, configFile });
      if (typeof r === 'string') throw new UsageError(r);
      return r;
    }
    case 'doctor': {
      if (rest.length) throw new UsageError('doctor takes no arguments but --ip ADDRESS');
      const config = loadOrExplain(values.config);
      if (typeof config === 'number') return config;
      const r = await (await import('./cli/doctor.js')).runDoctor(config, { ip: values.ip });
      if (typeof r === 'string') throw new UsageError(r);
      return r;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

// a bug must not print a stack trace for the operator to decode: one line, exit 1 (the container restarts)
const crash = (err: unknown): void => {
  process.stderr.write(`catchall-guard: internal error: ${errorText(err)}\n`);
  process.exit(EXIT_FAILURE);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`catchall-guard: ${err.message}\n${USAGE}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`catchall-guard: ${errorText(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
