// Stable reason codes for temporary delivery failures: short, lower-case, greppable. They go into the
// `message` log event and, in brackets, into the 451 text, so a sender's bounce that quotes our reply
// leads the operator straight to the cause (`grep storage-eacces`).

/** `storage-enospc`, `storage-eacces`, …: the errno of a failed file operation; `storage-error` without one. */
export function storageReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? `storage-${code.toLowerCase()}` : 'storage-error';
}

interface SmtpClientError {
  readonly code?: string;
  readonly responseCode?: number;
}

/** A temporary failure towards the upstream mailbox server, by what went wrong. */
export function upstreamReason(err: SmtpClientError): string {
  if (typeof err.responseCode === 'number')
    return err.responseCode >= 500 ? 'upstream-misconfigured' : 'upstream-tempfail';
  switch (err.code) {
    case 'ETIMEDOUT':
      return 'upstream-timeout';
    case 'ECONNREFUSED':
    case 'ECONNECTION':
    case 'ESOCKET':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EDNS':
      return 'upstream-unreachable';
    case 'ETLS':
      return 'upstream-tls';
    case 'EAUTH':
      return 'upstream-auth';
    default:
      return 'upstream-error';
  }
}
