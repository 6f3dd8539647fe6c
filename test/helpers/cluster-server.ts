// `serve` with `server.workers` above 1 as the operator runs it: the built CLI in a child process, a
// primary and its workers on one ephemeral port, from a temp config dir. Which worker served a session
// is read from its log lines (`worker: N`).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { spawnServer, type ChildServer } from './child-server.js';
import { writeConfig, type RawConfig } from './start-app.js';

export interface ClusterSite {
  readonly server: ChildServer;
  readonly configPath: string;
  readonly dataDir: string;
}

/**
 * Starts the server; what it needs undone goes to `cleanups` (run in reverse after each test): the
 * primary is stopped with `stopWith` (SIGKILL by default; SIGTERM lets it drain), and every worker it
 * ever started is killed, since workers whose primary was killed drain and leave on their own and none
 * may outlive the test. Round-robin unless `kernel`: the primary hands each new connection to the
 * next worker, so a few sessions opened one after the other are served by both (the kernel's choice
 * may give an idle server's sessions all to one).
 */
export async function startCluster(
  raw: RawConfig,
  cleanups: Array<() => Promise<void> | void>,
  opts: { readonly kernel?: boolean; readonly stopWith?: NodeJS.Signals } = {},
): Promise<ClusterSite> {
  const { dir, configPath, dataDir } = writeConfig(raw);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const server = await spawnServer(
    configPath,
    { CATCHALL_GUARD_DATA_DIR: dataDir, ...(opts.kernel ? {} : { NODE_CLUSTER_SCHED_POLICY: 'rr' }) },
    { stdoutFile: path.join(dir, 'out.log') },
  );
  cleanups.push(async () => {
    if (server.proc.exitCode === null && server.proc.signalCode === null) {
      server.proc.kill(opts.stopWith ?? 'SIGKILL');
      await server.exited;
    }
    for (const l of server.lines)
      if (l['event'] === 'worker' && l['action'] === 'started') {
        try {
          process.kill(Number(l['pid']), 'SIGKILL');
        } catch {
          // gone already
        }
      }
  });
  return { server, configPath, dataDir };
}

/** The worker whose `rcpt` line names this envelope sender. */
export async function workerOf(s: ChildServer, from: string): Promise<number> {
  const l = await s.waitForLine((x) => x['event'] === 'rcpt' && x['from'] === from);
  return Number(l['worker']);
}
