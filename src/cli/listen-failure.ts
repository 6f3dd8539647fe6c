// Why `serve` could not open a listening socket, in operator terms: a stable reason code for the log
// and a hint that says what to do. A bare `EACCES` on port 25 sends people searching; the fixes are
// known (a capability, a port redirect, another port). Pure.

export type ListenFailureReason =
  'listen-permission-denied' | 'listen-address-in-use' | 'listen-address-unavailable' | 'listen-failed';

export interface ListenTarget {
  /** The configuration key the socket comes from: `server.listen` or `http.listen`. */
  readonly key: 'server.listen' | 'http.listen';
  readonly host: string;
  readonly port: number;
}

export interface ListenFailure {
  readonly reason: ListenFailureReason;
  readonly key: ListenTarget['key'];
  readonly host: string;
  readonly port: number;
  /** The system's words: `listen EACCES: permission denied 0.0.0.0:25`. */
  readonly error: string;
  readonly hint: string;
}

/** Ports below this need privileges on Linux unless net.ipv4.ip_unprivileged_port_start says otherwise. */
export const FIRST_UNPRIVILEGED_PORT = 1024;

const PRIVILEGED_PORT_HINT =
  'ports below 1024 need a privilege a normal user lacks. Under systemd keep ' +
  'AmbientCapabilities=CAP_NET_BIND_SERVICE (deploy/catchall-guard.service); elsewhere listen on 2525 ' +
  'and redirect 25 to it in the firewall (nftables/iptables REDIRECT, or docker run -p 25:2525). ' +
  'Do not run catchall-guard as root';

/**
 * `err` is what net.Server emitted; Node puts the requested `address` and `port` on it, which tells
 * which of the two listeners failed.
 */
export function describeListenFailure(err: unknown, targets: readonly ListenTarget[]): ListenFailure {
  const e = (err ?? {}) as Partial<NodeJS.ErrnoException> & { address?: unknown; port?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const target = targets.find((t) => typeof e.port === 'number' && t.port === e.port) ??
    targets[0] ?? { key: 'server.listen' as const, host: '', port: 0 };
  const host = typeof e.address === 'string' ? e.address : target.host;
  const port = typeof e.port === 'number' ? e.port : target.port;
  // Node's message already names the code: `listen EACCES: permission denied 0.0.0.0:25`
  const error = code && !message.includes(code) ? `${code}: ${message}` : message;
  const base = { key: target.key, host, port, error };
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return {
        ...base,
        reason: 'listen-permission-denied',
        hint:
          port > 0 && port < FIRST_UNPRIVILEGED_PORT
            ? PRIVILEGED_PORT_HINT
            : `the system refused port ${port} to this user (a security policy such as SELinux or AppArmor?); choose another ${target.key}.port`,
      };
    case 'EADDRINUSE':
      return {
        ...base,
        reason: 'listen-address-in-use',
        hint:
          `another process already listens on ${host}:${port} (another catchall-guard, or the system's MTA ` +
          `such as Postfix or Exim on port 25): find it with \`ss -ltnp 'sport = :${port}'\`, stop it, or ` +
          `choose another ${target.key}.port`,
      };
    case 'EADDRNOTAVAIL':
      return {
        ...base,
        reason: 'listen-address-unavailable',
        hint: `${host} is not an address of this machine: set ${target.key}.host to one of its addresses, or 0.0.0.0 / :: for all`,
      };
    default:
      return { ...base, reason: 'listen-failed', hint: `check ${target.key}.host and ${target.key}.port` };
  }
}

/** The lines `serve` writes to stderr before it exits 1. */
export function listenFailureText(f: ListenFailure): string {
  const where = f.host.includes(':') ? `[${f.host}]:${f.port}` : `${f.host}:${f.port}`;
  return `catchall-guard: cannot listen on ${where} (${f.key}): ${f.error} [${f.reason}]\n  hint: ${f.hint}\n`;
}
