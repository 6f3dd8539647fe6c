// The prober and cache `verify.upstream` needs, built from delivery.smtp: the server mail is delivered
// to is the one that knows its mailboxes.
import { readFileSync } from 'node:fs';
import type { FileConfig } from '../config/schema.js';
import { createVerifyCache } from './cache.js';
import { createUpstreamProber } from './upstream-probe.js';
import type { StateStore } from '../state/store.js';
import type { VerifyBackend } from './verifier.js';

/**
 * Null when no domain asks the upstream (or there is no upstream: config validation refuses that).
 * Answers are cached in `state` (shared by workers and hosts) when given, else in memory of their own.
 */
export function buildVerifyBackend(
  config: Pick<FileConfig, 'domains' | 'delivery' | 'server'>,
  state?: StateStore,
): VerifyBackend | null {
  const smtp = config.delivery.smtp;
  if (!smtp || config.delivery.type !== 'smtp' || !config.domains.some((d) => d.verify?.upstream === true)) return null;
  const prober = createUpstreamProber({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    auth: smtp.auth,
    // the certificate checked as delivery checks it (build.ts): a CA given is a CA to check against
    tls: {
      verify: smtp.tls.verify ?? (smtp.secure || smtp.requireTLS || smtp.tls.ca !== undefined),
      ...(smtp.tls.ca !== undefined ? { ca: readFileSync(smtp.tls.ca) } : {}),
      ...(smtp.tls.servername !== undefined ? { servername: smtp.tls.servername } : {}),
    },
    name: config.server.hostname,
    timeoutMs: smtp.timeout,
  });
  return { prober, cache: createVerifyCache(state ? { store: state } : {}), close: () => prober.close() };
}

/** Whether a reload may keep the backend: same upstream, same need for one. */
export function sameVerifyUpstream(
  a: Pick<FileConfig, 'domains' | 'delivery' | 'server'>,
  b: Pick<FileConfig, 'domains' | 'delivery' | 'server'>,
): boolean {
  const key = (c: Pick<FileConfig, 'domains' | 'delivery' | 'server'>): string =>
    JSON.stringify([c.delivery.type, c.delivery.smtp, c.server.hostname, c.domains.some((d) => d.verify?.upstream)]);
  return key(a) === key(b);
}
