// What STARTTLS offers. Node's default list still carries CBC suites and static-RSA key exchange
// (no forward secrecy) for TLS 1.2; a sender that can do neither TLS 1.3 nor ECDHE with an AEAD
// cipher falls back to plain SMTP, as MTAs do when STARTTLS fails, rather than to a weak session.
import { constants } from 'node:crypto';

/** TLS 1.3 suites first, then TLS 1.2: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only. */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * Options for every TLS context of the listener (first start and reload). Renegotiation is refused:
 * a client-initiated one costs us a handshake for each of the client's, and SMTP never needs it.
 */
export const TLS_POLICY = {
  minVersion: 'TLSv1.2',
  ciphers: TLS_CIPHERS,
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
} as const;
