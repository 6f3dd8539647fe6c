// SIGHUP reads the configuration file again; one that does not load is refused with a `reload`
// event naming every issue on one line, and the running configuration stays. Shared by the
// single-process server (cli/serve.ts) and the cluster primary.
import { formatIssues } from '../config/issues.js';
import { loadConfig, type Config } from '../config/load.js';
import type { EventSink } from '../observability/events.js';

export function configForReload(configPath: string, events: EventSink): Config | null {
  const r = loadConfig({ configPath });
  if (r.ok) return r.config;
  events.emit({ event: 'reload', ok: false, what: 'config', error: formatIssues(r.issues).replace(/\n/g, '; ') });
  return null;
}
