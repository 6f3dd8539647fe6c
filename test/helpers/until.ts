// Polls `probe` until it gives something truthy, and returns that; past `timeoutMs` it fails naming
// `what`. For conditions a test watches from outside: log lines of a child process, files appearing.
export async function until<T>(
  what: string,
  probe: () => T | null | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
