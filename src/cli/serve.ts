// `serve`: runs the SMTP server; SIGTERM/SIGINT drain and exit 0 (a second signal exits at once),
// SIGHUP reloads the whole configuration.
import { EXIT_FAILURE, EXIT_OK, type ExitCode } from './exit-codes.js';
import type { Logger } from 'pino';
import { createApp } from '../app.js';
import { InstanceIdInUseError } from '../app/instance-lease.js';
import type { Config } from '../config/load.js';
import { configForReload } from '../app/reload-config.js';
import { createEventSink } from '../observability/events.js';
import { StorageUnusableError, storageFailureText } from '../storage/preflight.js';
import { storageRefusesReload } from '../storage/reload-gate.js';
import { describeListenFailure, listenFailureText, type ListenTarget } from './listen-failure.js';

export const SHUTDOWN_GRACE_MS = 30_000;

function listenTargets(config: Config): ListenTarget[] {
  const targets: ListenTarget[] = [{ key: 'server.listen', ...config.server.listen }];
  if (config.http) targets.push({ key: 'http.listen', ...config.http.listen });
  return targets;
}

export async function runServe(config: Config, configPath: string, log: Logger): Promise<ExitCode> {
  const events = createEventSink(log);
  const app = createApp(config, { events });
  let stopping = false;
  let started = false;
  let running = config;
  let resolveExit: (code: ExitCode) => void = () => undefined;
  const exit = new Promise<ExitCode>((resolve) => (resolveExit = resolve));

  const drainAndExit = (): void => {
    void app.stop(SHUTDOWN_GRACE_MS).then(() => {
      process.off('SIGHUP', reload);
      log.flush(() => resolveExit(EXIT_OK));
    });
  };
  const stop = (): void => {
    if (stopping) {
      events.emit({ event: 'shutdown', phase: 'forced' });
      log.flush();
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    // a signal during start-up is honoured once the listeners are up
    if (started) drainAndExit();
  };
  const reload = (): void => {
    const next = configForReload(configPath, events);
    if (!next) return;
    // a reload must not make storage worse (src/storage/reload-gate.ts): else the running config stays
    void storageRefusesReload(next, running).then((refused) => {
      if (stopping) return;
      if (refused) {
        events.emit({ event: 'reload', ok: false, what: 'config', error: refused });
        return;
      }
      // the log level is the logger's, not the app's: applied here, so it is not a restart-needed key
      log.level = next.log.level;
      if (app.reload(next).ok) running = next;
    });
  };
  // handlers first: a SIGTERM that arrives while the listeners come up must not kill the process
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  try {
    await app.start();
  } catch (err) {
    if (err instanceof StorageUnusableError) {
      // the `storage` events (ok:false, the path, the errno, the fix) are logged already
      await app.stop(0).catch(() => undefined);
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      process.stderr.write(storageFailureText(err.problems));
      return EXIT_FAILURE;
    }
    if (err instanceof InstanceIdInUseError) {
      events.emit({ event: 'error', where: 'instance', error: `${err.message}; ${err.hint}`, reason: err.reason });
      await app.stop(0).catch(() => undefined);
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      process.stderr.write(`catchall-guard: ${err.message}\n  ${err.hint}\n`);
      return EXIT_FAILURE;
    }
    const f = describeListenFailure(err, listenTargets(config));
    events.emit({ event: 'error', where: 'listen', error: f.error, reason: f.reason, hint: f.hint });
    await app.stop(0).catch(() => undefined);
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    // stdout carries the JSON log; the operator at a terminal (or journalctl) reads this line
    process.stderr.write(listenFailureText(f));
    return EXIT_FAILURE;
  }
  started = true;
  if (stopping) drainAndExit();
  return exit;
}
