// Composition root: builds the runtime from a config, wires the gateway to the SMTP listener, and
// owns start, reload and graceful stop. No module-level state anywhere else.
import { buildDelivery } from './delivery/build.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/load.js';
import type { Delivery } from './delivery/delivery.js';
import { compileDirectory } from './directory/directory.js';
import { watchRecipientsFiles, type RecipientsFiles } from './directory/watch.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import type { Runtime } from './gateway/runtime.js';
import { cleanSpool, cleanStaleSpools, type SpoolWriter } from './message/spool.js';
import type { EventSink } from './observability/events.js';
import { createHttpEndpoint, type HttpEndpoint } from './observability/http.js';
import { createMetrics } from './observability/metrics.js';
import { createOutbox } from './notice/outbox.js';
import type { DnsResolver } from './sender-auth/dns.js';
import { createQuarantineUsage } from './quarantine/usage.js';
import { createQuarantineStore } from './quarantine/store.js';
import { startRetention, type Retention } from './quarantine/retention.js';
import { replies } from './smtp/replies.js';
import { createSmtpListener, type SmtpListener } from './smtp/server.js';
import type { DurableFs } from './storage/durable-fs.js';

export interface AppDeps {
  readonly events: EventSink;
  readonly fs?: DurableFs;
  readonly spoolWriter?: SpoolWriter;
  readonly spoolMemoryLimit?: number;
  readonly now?: () => Date;
  /** Notices: DNS for SPF/DMARC and direct MX (tests answer offline), the retry backoff unit and window, the direct port. */
  readonly noticeResolver?: DnsResolver;
  readonly noticeRetryBaseMs?: number;
  readonly noticeRetryWindowMs?: number;
  readonly noticeDirect?: { readonly port?: number; readonly allowUnroutable?: boolean };
}

export interface App {
  start(): Promise<AddressInfo>;
  /** Validated config in; the old runtime stays if the new one cannot be built. */
  reload(config: Config): { readonly ok: true } | { readonly ok: false; readonly error: string };
  /** Graceful: refuse new sessions, close idle ones, let DATA in flight finish within the grace period. */
  stop(graceMs?: number): Promise<void>;
  readonly runtime: () => Runtime;
  readonly gateway: Gateway;
  readonly inFlight: () => number;
  /** The HTTP endpoint's address, when `http.listen` is configured and start() has run. */
  readonly httpAddress: () => AddressInfo | null;
}

function readTls(config: Config): { key: Buffer; cert: Buffer } | undefined {
  const tls = config.server.tls;
  return tls ? { key: readFileSync(tls.key), cert: readFileSync(tls.cert) } : undefined;
}

export function createApp(initial: Config, deps: AppDeps): App {
  const { events } = deps;
  let shuttingDown = false;
  let listening = false;
  const metrics = createMetrics(events);
  let httpEndpoint: HttpEndpoint | null = null;
  let httpAddress: AddressInfo | null = null;
  let retention: Retention | null = null;
  let inFlight = 0;
  let drained: (() => void) | null = null;
  let files: RecipientsFiles;
  let runtime: Runtime;

  function buildRuntime(config: Config, delivery: Delivery, watched: RecipientsFiles): Runtime {
    return {
      config,
      directory: compileDirectory(config.domains, watched.current()),
      delivery,
      quarantine: createQuarantineStore(config.quarantine.path, deps.fs),
      quarantineUsage: createQuarantineUsage(config.quarantine.path),
      // per host: instances sharing one data volume (SPEC §11) each clean only their own spool at start
      spoolDir: path.join(config.paths.dataDir, 'spool', hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'host'),
    };
  }

  function watchFiles(config: Config): RecipientsFiles {
    const list = new Map<string, string>();
    for (const d of config.domains) if (d.recipientsFile) list.set(d.name, d.recipientsFile);
    return watchRecipientsFiles(
      list,
      () => {
        // only the directory changes; everything else of the runtime stays as it is
        runtime = { ...runtime, directory: compileDirectory(runtime.config.domains, files.current()) };
      },
      {
        onReload: (domain, file, r) =>
          events.emit(
            r.ok
              ? { event: 'reload', ok: true, what: 'recipientsFile', domain, entries: r.entries }
              : { event: 'reload', ok: false, what: 'recipientsFile', domain, error: `${file}: ${r.error}` },
          ),
      },
    );
  }

  files = watchFiles(initial);
  runtime = buildRuntime(initial, buildDelivery(initial, deps.fs), files);

  const gateway = createGateway({
    runtime: () => runtime,
    events,
    isShuttingDown: () => shuttingDown,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.spoolWriter ? { spoolWriter: deps.spoolWriter } : {}),
    ...(deps.spoolMemoryLimit !== undefined ? { spoolMemoryLimit: deps.spoolMemoryLimit } : {}),
    inFlight: {
      begin: () => void inFlight++,
      end: () => {
        inFlight--;
        if (inFlight === 0 && drained) drained();
      },
    },
  });

  // ── notices (src/notice/): sent by a background outbox after the transaction, never on the SMTP path ──
  const outbox = createOutbox({
    runtime: () => runtime,
    events,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.noticeResolver ? { resolver: deps.noticeResolver } : {}),
    ...(deps.noticeRetryBaseMs !== undefined ? { retryBaseMs: deps.noticeRetryBaseMs } : {}),
    ...(deps.noticeRetryWindowMs !== undefined ? { retryWindowMs: deps.noticeRetryWindowMs } : {}),
    ...(deps.noticeDirect ? { direct: deps.noticeDirect } : {}),
  });
  // the gateway stays unaware of notices: a committed quarantine entry shows up as a `message` event
  const stopNoticeKicks = events.subscribe((e) => {
    if (e.event === 'message' && e.outcome === 'stored' && e.quarantined.length > 0) outbox.kick(e.qid);
  });
  // ── end notices ──

  const server = initial.server;
  const listener: SmtpListener = createSmtpListener(
    {
      hostname: server.hostname,
      maxMessageSize: server.maxMessageSize,
      socketTimeoutMs: server.socketTimeout,
      greetDelayMs: server.greetDelay,
      dataTimeoutMs: server.dataTimeout,
      sessionTimeoutMs: server.sessionTimeout,
      disableReverseLookup: server.disableReverseLookup,
      tls: readTls(initial),
    },
    gateway,
  );

  return {
    runtime: () => runtime,
    gateway,
    inFlight: () => inFlight,
    httpAddress: () => httpAddress,
    async start() {
      await runtime.quarantine.cleanTemp().catch(() => 0);
      await cleanSpool(runtime.spoolDir);
      await cleanStaleSpools(path.dirname(runtime.spoolDir), runtime.spoolDir, 86_400_000);
      await runtime.delivery.cleanTemp?.().catch(() => 0);
      // quarantine.maxSize is judged from the first RCPT on
      await runtime.quarantineUsage.refresh().catch(() => 0);
      const { host, port } = runtime.config.server.listen;
      const addr = await listener.listen(host, port);
      listening = true;
      events.emit({ event: 'listening', host: addr.address, port: addr.port, proto: 'smtp' });
      await outbox.start(); // notices
      // retention: expired quarantine entries go at start, then hourly
      retention = startRetention({ store: () => runtime.quarantine, events });
      const http = runtime.config.http;
      if (http) {
        httpEndpoint = createHttpEndpoint({ registry: metrics.registry, isReady: () => listening && !shuttingDown });
        httpAddress = await httpEndpoint.listen(http.listen.host, http.listen.port);
        events.emit({ event: 'listening', host: httpAddress.address, port: httpAddress.port, proto: 'http' });
      }
      return addr;
    },
    reload(config) {
      let tls: { key: Buffer; cert: Buffer } | undefined;
      let nextFiles: RecipientsFiles | null = null;
      try {
        tls = readTls(config);
        nextFiles = watchFiles(config);
        const old = runtime;
        const delivery =
          JSON.stringify(old.config.delivery) === JSON.stringify(config.delivery)
            ? old.delivery
            : buildDelivery(config, deps.fs);
        runtime = buildRuntime(config, delivery, nextFiles);
        files.close();
        files = nextFiles;
        if (delivery !== old.delivery) void old.delivery.close();
      } catch (err) {
        nextFiles?.close();
        const error = err instanceof Error ? err.message : String(err);
        events.emit({ event: 'reload', ok: false, error });
        return { ok: false, error };
      }
      if (tls) listener.updateTls(tls);
      listener.updateOptions({
        greetDelayMs: config.server.greetDelay,
        maxMessageSize: config.server.maxMessageSize,
        dataTimeoutMs: config.server.dataTimeout,
        sessionTimeoutMs: config.server.sessionTimeout,
      });
      events.emit({ event: 'reload', ok: true, what: 'config' });
      return { ok: true };
    },
    async stop(graceMs = 30_000) {
      if (!shuttingDown) {
        shuttingDown = true;
        events.emit({ event: 'shutdown', phase: 'draining', inFlight });
      }
      listener.closeIdle(replies.shuttingDown());
      const waitDrain = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve));
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
      const r = await Promise.race([waitDrain.then(() => 'drained' as const), timeout]);
      // sessions that finished their DATA meanwhile are idle now: tell them too, then stop listening
      listener.closeIdle(replies.shuttingDown());
      await listener.close(r === 'timeout' ? 0 : 1000);
      listening = false;
      stopNoticeKicks(); // notices
      await outbox.stop(); // notices
      await retention?.stop();
      files.close();
      await runtime.delivery.close();
      await httpEndpoint?.close();
      metrics.stop();
      events.emit({ event: 'shutdown', phase: r === 'timeout' ? 'forced' : 'done' });
    },
  };
}
