// Whether a new connection may proceed to the banner (SPEC §3, §4). Pure: the counts are values.

export type ConnectRefusal =
  'shutting-down' | 'max-unknown-recipients-per-ip' | 'max-connections' | 'max-connections-per-ip';

export type ConnectOutcome =
  { readonly kind: 'proceed' } | { readonly kind: 'refuse'; readonly reason: ConnectRefusal };

export interface ConnectContext {
  readonly shuttingDown: boolean;
  /** Unknown-recipient answers given to this client within its hour. */
  readonly unknownForIp: number;
  /** Sessions open now, in all and from this client (this one not yet counted). */
  readonly openTotal: number;
  readonly openForIp: number;
  /** 0 turns a limit off. */
  readonly limits: {
    readonly maxConnections: number;
    readonly maxConnectionsPerIp: number;
    readonly maxUnknownRecipientsPerIp: number;
  };
}

const PROCEED: ConnectOutcome = { kind: 'proceed' };
const refuse = (reason: ConnectRefusal): ConnectOutcome => ({ kind: 'refuse', reason });

/** Shutting down first, then the harvest budget (an exhausted IP learns nothing more), then the socket limits. */
export function decideConnect(ctx: ConnectContext): ConnectOutcome {
  const { limits } = ctx;
  if (ctx.shuttingDown) return refuse('shutting-down');
  if (limits.maxUnknownRecipientsPerIp > 0 && ctx.unknownForIp >= limits.maxUnknownRecipientsPerIp)
    return refuse('max-unknown-recipients-per-ip');
  if (limits.maxConnections > 0 && ctx.openTotal >= limits.maxConnections) return refuse('max-connections');
  if (limits.maxConnectionsPerIp > 0 && ctx.openForIp >= limits.maxConnectionsPerIp)
    return refuse('max-connections-per-ip');
  return PROCEED;
}
