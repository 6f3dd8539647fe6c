// The runtime a session sees (config, recipient directory, delivery, quarantine), built whole and
// swapped with one assignment on SIGHUP or when a recipients file changes.
import { errorText } from '../observability/error-text.js';
import type { Config } from '../config/load.js';
import { buildDelivery } from '../delivery/build.js';
import type { Delivery } from '../delivery/delivery.js';
import { compileDirectory } from '../directory/directory.js';
import { watchRecipientsFiles, type RecipientsFiles } from '../directory/watch.js';
import type { Runtime } from '../gateway/runtime.js';
import type { EventSink } from '../observability/events.js';
import { createQuarantineStore } from '../quarantine/store.js';
import { claimHolderIn } from './instance-lease.js';
import { createQuarantineUsage } from '../quarantine/usage.js';
import type { DurableFs } from '../storage/durable-fs.js';
import type { StateStore } from '../state/store.js';
import { THIS_INSTANCE } from '../storage/instance-id.js';
import { spoolDirOf } from '../storage/spool-dir.js';
import { buildVerifyBackend, sameVerifyUpstream } from '../verify/backend.js';
import { createVerifier } from '../verify/verifier.js';

export interface RuntimeHolder {
  readonly current: () => Runtime;
  /** Builds the runtime of a validated config; the old one stays if that fails. */
  replace(config: Config): { readonly ok: true } | { readonly ok: false; readonly error: string };
  /** Stops watching recipients files and closes the delivery. */
  close(): Promise<void>;
}

export function createRuntimeHolder(
  initial: Config,
  deps: {
    readonly events: EventSink;
    readonly fs?: DurableFs | undefined;
    /** Where the verify.upstream cache lives (shared by workers and hosts); memory of its own when absent. */
    readonly state?: StateStore | undefined;
    /** This process among all sharing `state` (the holder of its quarantine.maxSize share); the instance id by default. */
    readonly stateHolder?: string | undefined;
    /** Where this process spools (a worker's own directory: spool-dir.ts); the instance's by default. */
    readonly spoolDir?: string | undefined;
  },
): RuntimeHolder {
  const { events } = deps;
  let runtime: Runtime;

  function build(config: Config, delivery: Delivery, watched: RecipientsFiles, old?: Runtime): Runtime {
    return {
      config,
      directory: compileDirectory(config.domains, watched.current()),
      delivery,
      // a claim of an instance whose lease is silent or stopped is taken over at once, not after 30 min
      quarantine: createQuarantineStore(config.quarantine.path, deps.fs, {
        claimHolder: (host, token) => claimHolderIn(config.paths.dataDir, host, token),
      }),
      // kept across a reload of the same quarantine: a new one would judge from nothing until it has counted
      quarantineUsage:
        old?.config.quarantine.path === config.quarantine.path
          ? old.quarantineUsage
          : createQuarantineUsage(config.quarantine.path, {
              fs: deps.fs,
              state: deps.state,
              holder: deps.stateHolder ?? THIS_INSTANCE,
            }),
      spoolDir: deps.spoolDir ?? spoolDirOf(config),
      verifier: createVerifier(config.domains, verifyBackend, events),
    };
  }

  function watch(config: Config): RecipientsFiles {
    const watched: RecipientsFiles = watchRecipientsFiles(
      config.domains,
      () => {
        // only the directory changes; everything else of the runtime stays as it is
        runtime = { ...runtime, directory: compileDirectory(runtime.config.domains, watched.current()) };
      },
      {
        onReload: (domain, _file, r) =>
          events.emit(
            r.ok
              ? { event: 'reload', ok: true, what: 'recipientsFile', domain, entries: r.entries }
              : { event: 'reload', ok: false, what: 'recipientsFile', domain, error: r.error },
          ),
      },
    );
    return watched;
  }

  // the upstream probe pool and its cache outlive a reload that keeps the same upstream
  let verifyBackend = buildVerifyBackend(initial, deps.state);
  let files = watch(initial);
  runtime = build(initial, buildDelivery(initial, deps.fs), files);

  return {
    current: () => runtime,
    replace(config) {
      let next: RecipientsFiles | null = null;
      const oldVerify = verifyBackend;
      try {
        next = watch(config);
        const old = runtime;
        if (!sameVerifyUpstream(old.config, config)) verifyBackend = buildVerifyBackend(config, deps.state);
        // an unchanged delivery keeps its pooled upstream connections
        const same = JSON.stringify(old.config.delivery) === JSON.stringify(config.delivery);
        const delivery = same ? old.delivery : buildDelivery(config, deps.fs);
        runtime = build(config, delivery, next, old);
        files.close();
        files = next;
        if (delivery !== old.delivery) void old.delivery.close();
        if (verifyBackend !== oldVerify) void oldVerify?.close();
        // SPEC §3: on reload the upstream is asked again whether it accepts any address
        void runtime.verifier.checkCatchAll();
        return { ok: true };
      } catch (err) {
        if (verifyBackend !== oldVerify) void verifyBackend?.close();
        verifyBackend = oldVerify;
        next?.close();
        return { ok: false, error: errorText(err) };
      }
    },
    async close() {
      files.close();
      await runtime.delivery.close();
      await verifyBackend?.close();
    },
  };
}
