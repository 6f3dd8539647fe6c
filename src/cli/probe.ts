// `probe`: the container HEALTHCHECK. Connects to our own SMTP port, expects the 220 greeting, says QUIT.
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type ExitCode } from './exit-codes.js';
import net from 'node:net';
import type { Config } from '../config/load.js';
import { probeStorage } from '../storage/preflight.js';
import type { RuntimeInfo } from '../app/runtime-file.js';
import { findRunningServer } from '../app/running-servers.js';
import { THIS_INSTANCE } from '../storage/instance-id.js';

export const PROBE_TIMEOUT_MS = 5_000;

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  /** Where the address came from, for the failure message: the running server's runtime file, or the configuration. */
  readonly from?: string;
}

/**
 * The address the running server bound, from its runtime file (app/runtime-file.ts), when the file is
 * there and its process alive — this instance's, else the only live one (app/running-servers.ts); else
 * null, and the configuration (with its environment overrides) decides. A file left by a killed server
 * names a port nobody listens on: the configuration knows better.
 */
export function boundAddress(config: Config): { readonly file: string; readonly info: RuntimeInfo } | null {
  const found = findRunningServer(config.paths.dataDir);
  return found.kind === 'found' ? found.server : null;
}

/** A wildcard listen address is probed over loopback; a specific one as bound (or configured). */
export function probeTarget(
  config: Config,
  bound: { readonly file: string; readonly info: RuntimeInfo } | null = null,
): ProbeTarget {
  const { host, port } = bound ? bound.info.smtp : config.server.listen;
  const wildcard = host === '' || host === '0.0.0.0' || host === '::' || host === '[::]' || host === 'localhost';
  return { host: wildcard ? '127.0.0.1' : host, port, from: bound ? bound.file : 'the configuration' };
}

export type ProbeResult =
  { readonly ok: true; readonly greeting: string } | { readonly ok: false; readonly error: string };

/** Reads the greeting (multi-line replies end with `NNN `), expects 220, then QUIT. Never throws. */
export function probeSmtp(target: ProbeTarget, timeoutMs: number = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port });
    let buffer = '';
    let settled = false;
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (r.ok) {
        // QUIT politely; the answer does not matter, the greeting already proved the server alive
        socket.end('QUIT\r\n');
        setTimeout(() => socket.destroy(), 500).unref();
      } else {
        socket.destroy();
      }
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, error: `no greeting from ${target.host}:${target.port} within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.replace(/\r$/, '');
        if (/^\d{3}-/.test(line)) continue; // continuation of a multi-line greeting
        return finish(
          /^220(?: |$)/.test(line)
            ? { ok: true, greeting: line }
            : { ok: false, error: `unexpected greeting: ${line.slice(0, 200)}` },
        );
      }
      if (buffer.length > 4096) finish({ ok: false, error: 'greeting too long' });
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, error: `${target.host}:${target.port}: ${err.code ?? err.message}` }),
    );
    socket.on('close', () =>
      finish({ ok: false, error: `${target.host}:${target.port}: connection closed before the greeting` }),
    );
  });
}

export async function runProbe(config: Config): Promise<ExitCode> {
  const found = findRunningServer(config.paths.dataDir);
  if (found.kind === 'several') {
    const which = found.servers
      .map((s) => `${s.instance} (${s.info.smtp.host}:${s.info.smtp.port}, pid ${s.info.pid})`)
      .join(', ');
    process.stderr.write(
      `catchall-guard: probe: no server runs as instance "${THIS_INSTANCE}" on ${config.paths.dataDir}, and ` +
        `several others do: ${which}; set CATCHALL_GUARD_INSTANCE_ID to the one to probe\n`,
    );
    return EXIT_USAGE;
  }
  const target = probeTarget(config, found.kind === 'found' ? found.server : null);
  const r = await probeSmtp(target);
  // a server that greets but cannot store mail is not healthy either (src/storage/preflight.ts)
  const storage = await probeStorage(config);
  if (r.ok && storage.length === 0) {
    // another instance's server stood in for ours: say which, so a healthy answer is not misread
    const other =
      found.kind === 'found' && found.server.instance !== THIS_INSTANCE
        ? ` (instance ${found.server.instance} at ${target.host}:${target.port})`
        : '';
    process.stdout.write(`ok: ${r.greeting}${other}\n`);
    return EXIT_OK;
  }
  if (!r.ok) process.stderr.write(`catchall-guard: probe failed: ${r.error} (address from ${target.from})\n`);
  for (const line of storage) process.stderr.write(`catchall-guard: probe failed: ${line}\n`);
  return EXIT_FAILURE;
}
