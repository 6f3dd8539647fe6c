// What the gateway remembers per SMTP session and per transaction, by session id.
import type { MailDsn } from '../message/dsn-params.js';
import type { AcceptedRecipient } from '../transaction/plan.js';

export interface Transaction {
  readonly from: string;
  /** ENVID and RET, when the client used the DSN extension. */
  readonly dsn: MailDsn | null;
  /** MAIL FROM carried SMTPUTF8 (RFC 6531): replies may name UTF-8 addresses. */
  readonly smtputf8?: boolean;
  /** Keyed by the address as smtp-server reports it, lower-cased, to match its envelope later. */
  readonly recipients: Map<string, AcceptedRecipient>;
}

export interface SessionState {
  readonly sid: string;
  /** The client key the per-client limits count under (see policy/limits.ts clientKey). */
  readonly ip: string;
  /** Counted against the connection limits (refused sessions are not). */
  counted: boolean;
  /** Its `connect` line is written: the close writes one for a session that never got it. */
  connectLogged: boolean;
  unknownRecipients: number;
  tx: Transaction | null;
}

export const envelopeKey = (address: string): string => address.toLowerCase();

export interface Sessions {
  open(sid: string, ip: string): SessionState;
  get(sid: string): SessionState | undefined;
  /** Forgets the session and returns what it was. */
  end(sid: string): SessionState | undefined;
}

export function createSessions(): Sessions {
  const map = new Map<string, SessionState>();
  return {
    open(sid, ip) {
      const s: SessionState = { sid, ip, counted: false, connectLogged: false, unknownRecipients: 0, tx: null };
      map.set(sid, s);
      return s;
    },
    get: (sid) => map.get(sid),
    end(sid) {
      const s = map.get(sid);
      map.delete(sid);
      return s;
    },
  };
}
