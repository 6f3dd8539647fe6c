// Which changed keys a SIGHUP reload cannot put in force. The SMTP and HTTP sockets, and the options
// smtp-server reads only when it is constructed, stay as they were started; the reload event names
// these keys so that `reload ok: true` never hides a change that did not happen. Re-binding a socket
// in a running server is not attempted: a new port that fails to bind would leave the server half
// moved, while a restart (systemctl restart, docker restart) drains and re-binds in a second. Pure.
import type { Config } from '../config/load.js';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function restartNeeded(running: Config, next: Config): string[] {
  const keys: string[] = [];
  const a = running.server;
  const b = next.server;
  if (!same(a.listen, b.listen)) keys.push('server.listen');
  // the banner and EHLO name are fixed when the listener is built
  if (a.hostname !== b.hostname) keys.push('server.hostname');
  if (a.socketTimeout !== b.socketTimeout) keys.push('server.socketTimeout');
  if (a.disableReverseLookup !== b.disableReverseLookup) keys.push('server.disableReverseLookup');
  // the processes are forked at start (src/cluster/)
  if (a.workers !== b.workers) keys.push('server.workers');
  // new key and certificate files are re-read; STARTTLS is offered or not from the start on
  if ((a.tls === undefined) !== (b.tls === undefined)) keys.push('server.tls');
  if (!same(running.http?.listen, next.http?.listen)) keys.push('http.listen');
  // the log destination is opened once, before the app exists (log.level is applied on reload)
  if (!same(running.log.file, next.log.file)) keys.push('log.file');
  // new mail goes to the new directory at once, but the start-time clean-up, the quota count and
  // pending notices of the old one are not carried over
  if (running.paths.dataDir !== next.paths.dataDir) keys.push('dataDir');
  // the state store (memory or the Redis connection) is built once at start (src/state/build.ts)
  if (!same(running.state, next.state)) keys.push('state');
  return keys;
}
