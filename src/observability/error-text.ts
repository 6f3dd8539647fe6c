// What a thrown value says, in one line, for a log event or an operator's message. Never a stack.

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An errno-style code (`ENOSPC`) when the error has one, else its message. */
export function errorCodeOrText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : errorText(err);
}
