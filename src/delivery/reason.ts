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
  /** nodemailer's copy of the socket's own code, under its generic ESOCKET. */
  readonly originalCode?: string;
}

/** Node's codes for a handshake or certificate check that failed (OpenSSL's X509_V_ERR names, ERR_SSL_*, ERR_TLS_*). */
const TLS_FAILURE =
  /^(ERR_SSL_|ERR_TLS_|UNABLE_TO_)|CERT|^(INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH)$/;

/** Whether the upstream failed on TLS: STARTTLS refused or missing while required, or a certificate not trusted. */
export function isTlsFailure(err: SmtpClientError): boolean {
  return err.code === 'ETLS' || TLS_FAILURE.test(err.originalCode ?? '');
}

/** A temporary failure towards the upstream mailbox server, by what went wrong. */
export function upstreamReason(err: SmtpClientError): string {
  // before the reply code: a 5xx to STARTTLS is a TLS problem, and the operator should read it as one
  if (isTlsFailure(err)) return 'upstream-tls';
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
