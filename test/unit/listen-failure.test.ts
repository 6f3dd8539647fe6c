// The listen error → reason code and hint table (serve exits 1 with these; test/cli/serve-listen.test.ts
// provokes EADDRINUSE and EACCES for real).
import { describe, expect, it } from 'vitest';
import { describeListenFailure, listenFailureText, type ListenTarget } from '../../src/cli/listen-failure.js';

const targets: ListenTarget[] = [
  { key: 'server.listen', host: '0.0.0.0', port: 25 },
  { key: 'http.listen', host: '127.0.0.1', port: 9025 },
];

/** What net.Server emits: Node's errno exception with the requested address and port. */
function listenError(code: string, address: string, port: number): NodeJS.ErrnoException {
  const messages: Record<string, string> = {
    EACCES: 'permission denied',
    EADDRINUSE: 'address already in use',
    EADDRNOTAVAIL: 'address not available',
    EPERM: 'operation not permitted',
    EINVAL: 'invalid argument',
  };
  return Object.assign(new Error(`listen ${code}: ${messages[code] ?? 'x'} ${address}:${port}`), {
    code,
    errno: -1,
    syscall: 'listen',
    address,
    port,
  });
}

describe('describeListenFailure', () => {
  it.each([
    ['EACCES', '0.0.0.0', 25, 'server.listen', 'listen-permission-denied', /AmbientCapabilities=CAP_NET_BIND_SERVICE/],
    ['EACCES', '0.0.0.0', 25, 'server.listen', 'listen-permission-denied', /redirect 25 to it/],
    ['EPERM', '0.0.0.0', 25, 'server.listen', 'listen-permission-denied', /ports below 1024/],
    ['EACCES', '0.0.0.0', 2525, 'server.listen', 'listen-permission-denied', /choose another server\.listen\.port/],
    ['EADDRINUSE', '0.0.0.0', 25, 'server.listen', 'listen-address-in-use', /ss -ltnp 'sport = :25'/],
    ['EADDRINUSE', '127.0.0.1', 9025, 'http.listen', 'listen-address-in-use', /another http\.listen\.port/],
    ['EADDRNOTAVAIL', '192.0.2.1', 25, 'server.listen', 'listen-address-unavailable', /server\.listen\.host/],
    ['EINVAL', '0.0.0.0', 25, 'server.listen', 'listen-failed', /check server\.listen\.host/],
  ] as const)('%s on %s:%i → %s, %s', (code, host, port, key, reason, hint) => {
    const f = describeListenFailure(listenError(code, host, port), targets);
    expect(f).toMatchObject({ reason, key, host, port });
    expect(f.hint).toMatch(hint);
    // the code is named once, as Node words it
    expect(f.error).toBe(listenError(code, host, port).message);
  });

  it('an error without address or port (not from net.Server) is described against the SMTP listener', () => {
    const f = describeListenFailure(new Error('boom'), targets);
    expect(f).toMatchObject({
      reason: 'listen-failed',
      key: 'server.listen',
      host: '0.0.0.0',
      port: 25,
      error: 'boom',
    });
  });

  it('an error code missing from the message is put in front of it', () => {
    const e = Object.assign(new Error('permission denied'), { code: 'EACCES', port: 25, address: '::' });
    expect(describeListenFailure(e, targets).error).toBe('EACCES: permission denied');
  });

  it('listenFailureText names the address (IPv6 in brackets), the key, the reason and the hint', () => {
    const f = describeListenFailure(listenError('EACCES', '::', 25), targets);
    expect(listenFailureText(f)).toBe(
      `catchall-guard: cannot listen on [::]:25 (server.listen): listen EACCES: permission denied :::25 [listen-permission-denied]\n  hint: ${f.hint}\n`,
    );
  });
});
