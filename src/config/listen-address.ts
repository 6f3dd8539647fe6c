// `host:port` as an environment variable gives it (CATCHALL_GUARD_HTTP_LISTEN): `0.0.0.0:9090`,
// `[::]:9090`, `127.0.0.1:9025`. Pure; the schema checks the rest as it does for the file's keys.

export type ListenAddressResult =
  { readonly ok: true; readonly host: string; readonly port: number } | { readonly ok: false; readonly error: string };

export function parseListenAddress(text: string): ListenAddressResult {
  const expected = `expected HOST:PORT such as 0.0.0.0:9090 or [::]:9090, got "${text}"`;
  // an IPv6 address carries colons of its own: only the bracketed form is unambiguous
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return { ok: false, error: expected };
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (host === '' || port > 65535) return { ok: false, error: expected };
  return { ok: true, host, port };
}
