// What the SMTP listener takes from the configuration, and the one reload sequence for it. The
// single-process app (src/app.ts) and a cluster worker (src/cluster/worker-app.ts) both reload this
// way: TLS read and checked first, then the runtime, then the listener; a refusal changes nothing.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { trustedPeers } from '../address/trusted-proxies.js';
import type { Config } from '../config/load.js';
import { errorText } from '../observability/error-text.js';
import type { EventSink } from '../observability/events.js';
import type { SmtpListener, SmtpServerOptions } from '../smtp/server.js';
import { TLS_POLICY } from '../smtp/tls-policy.js';
import { restartNeeded } from './restart-needed.js';

/** `server.proxyProtocol`: who must send a PROXY header; null when nobody may. */
export const proxyTrustOf = (config: Config): ((peer: string) => boolean) | null =>
  config.server.proxyProtocol ? trustedPeers(config.server.proxyProtocol.trusted) : null;

export function readTls(config: Config): { key: Buffer; cert: Buffer } | undefined {
  const tls = config.server.tls;
  if (!tls) return undefined;
  const pair = { key: readFileSync(tls.key), cert: readFileSync(tls.cert) };
  // throws here, before anything is swapped, for a key that is not the certificate's (a renewal met
  // half-way): the listener would otherwise be left without a usable context, and SIGHUP's handler
  // would throw
  createSecureContext({ ...pair, ...TLS_POLICY });
  return pair;
}

/** Everything createSmtpListener takes from the configuration at start. */
export function listenerSettings(config: Config): SmtpServerOptions {
  return {
    hostname: config.server.hostname,
    socketTimeoutMs: config.server.socketTimeout,
    disableReverseLookup: config.server.disableReverseLookup,
    proxyTrusted: proxyTrustOf(config),
    tls: readTls(config),
    ...wireOptions(config),
  };
}

/** The listener's settings that a reload may change (the rest needs a restart). */
export function wireOptions(config: Config): {
  greetDelayMs: number;
  maxMessageSize: number;
  dataTimeoutMs: number;
  sessionTimeoutMs: number;
} {
  const s = config.server;
  return {
    greetDelayMs: s.greetDelay,
    maxMessageSize: s.maxMessageSize,
    dataTimeoutMs: s.dataTimeout,
    sessionTimeoutMs: s.sessionTimeout,
  };
}

export type ReloadResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Applies `config` to the runtime and the listener and logs the `reload` event. `afterApply` runs
 * between the swap and the event (the app re-checks storage there). Keys the running process cannot
 * take over are judged against `initial`, so a change made and undone needs no restart.
 */
export function reloadListener(
  config: Config,
  deps: {
    readonly initial: Config;
    readonly runtime: { replace(config: Config): ReloadResult };
    readonly listener: Pick<SmtpListener, 'updateTls' | 'updateOptions' | 'updateProxyTrust'>;
    readonly events: EventSink;
    readonly afterApply?: () => void;
  },
): ReloadResult {
  const { events, listener } = deps;
  let tls: { key: Buffer; cert: Buffer } | undefined;
  try {
    tls = readTls(config);
  } catch (err) {
    const error = errorText(err);
    events.emit({ event: 'reload', ok: false, what: 'config', error });
    return { ok: false, error };
  }
  const r = deps.runtime.replace(config);
  if (!r.ok) {
    events.emit({ event: 'reload', ok: false, what: 'config', error: r.error });
    return r;
  }
  if (tls) listener.updateTls(tls);
  listener.updateOptions(wireOptions(config));
  listener.updateProxyTrust(proxyTrustOf(config));
  deps.afterApply?.();
  const pending = restartNeeded(deps.initial, config);
  events.emit({ event: 'reload', ok: true, what: 'config', ...(pending.length ? { restartNeeded: pending } : {}) });
  return { ok: true };
}
