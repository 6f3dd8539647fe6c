// The configured delivery: Maildir folders or the upstream mailbox server. Used by `serve` and by
// `quarantine release`, so a released message takes exactly the path a live one would.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/load.js';
import type { DurableFs } from '../storage/durable-fs.js';
import type { Delivery } from './delivery.js';
import { createMaildirDelivery } from './maildir.js';
import { createUpstreamDelivery } from './upstream.js';

export function buildDelivery(config: Config, fs?: DurableFs): Delivery {
  if (config.delivery.type === 'smtp' && config.delivery.smtp) {
    const s = config.delivery.smtp;
    return createUpstreamDelivery({
      host: s.host,
      port: s.port,
      secure: s.secure,
      requireTLS: s.requireTLS,
      auth: s.auth,
      timeout: s.timeout,
      name: config.server.hostname,
      tls: {
        // a CA given is a CA to check against; without one, opportunistic STARTTLS stays unverified
        verify: s.tls.verify ?? (s.secure || s.requireTLS || s.tls.ca !== undefined),
        // load.ts checked that the file is readable and holds a certificate
        ...(s.tls.ca !== undefined ? { ca: readFileSync(s.tls.ca) } : {}),
        ...(s.tls.servername !== undefined ? { servername: s.tls.servername } : {}),
      },
    });
  }
  return createMaildirDelivery(config.delivery.maildir.path, fs);
}
