// A new connection: counted, or refused with the reason policy/connect.ts gives.
import { decideConnect, type ConnectRefusal } from '../policy/connect.js';
import { clientKey } from '../address/ip.js';
import type { SessionInfo } from '../smtp/server.js';
import { replies, type SmtpReply } from '../smtp/replies.js';
import { errorText } from '../observability/error-text.js';
import type { GatewayContext } from './context.js';
import type { SessionState } from './sessions.js';

/**
 * Counts a session down, once: from close, or from a refusal at connect, whichever comes first (a
 * client may hang up while its connect is still being judged). Never fails the session: the counter
 * counts down locally first, and the store write behind it has its own fallback.
 */
export function releaseConnection(ctx: GatewayContext, session: SessionState): void {
  if (!session.counted) return;
  session.counted = false;
  ctx.connections
    .release(session.ip, ctx.deps.runtime().config.server.sessionTimeout)
    .catch((err: unknown) => ctx.events.emit({ event: 'error', where: 'connect', error: errorText(err) }));
}

function refusalReply(reason: ConnectRefusal): SmtpReply {
  switch (reason) {
    case 'shutting-down':
      return replies.shuttingDown();
    case 'max-unknown-recipients-per-ip':
      return replies.harvestLimitIp();
    case 'max-connections':
      return replies.tooManyConnections();
    case 'max-connections-per-ip':
      return replies.tooManyConnectionsIp();
  }
}

export function onConnect(ctx: GatewayContext): (info: SessionInfo) => Promise<SmtpReply | null> {
  return async (info) => {
    const server = ctx.deps.runtime().config.server;
    const state = ctx.sessions.open(info.sid, clientKey(info.remoteAddress));
    if (ctx.deps.isShuttingDown()) return refuse(info, state, 'shutting-down');
    // counted before judged (and counted down if refused): two hosts opening at once see each other
    state.counted = true;
    const [unknownForIp, open] = await Promise.all([
      ctx.unknownBudget.used(state.ip),
      ctx.connections.open(state.ip, server.sessionTimeout),
    ]);
    const outcome = decideConnect({
      shuttingDown: ctx.deps.isShuttingDown(),
      unknownForIp,
      openTotal: open.total,
      openForIp: open.forIp,
      limits: server,
    });
    if (outcome.kind === 'proceed') {
      if (stillOpen(state)) {
        state.connectLogged = true;
        ctx.events.emit({ event: 'connect', sid: info.sid, remoteAddress: info.remoteAddress });
      }
      return null;
    }
    releaseConnection(ctx, state);
    return refuse(info, state, outcome.reason);
  };

  /**
   * False once the client hung up while its connection was being judged: its close already wrote the
   * connect line (`reason: client-gone`, gateway.ts), and a second one after the close would be noise.
   */
  function stillOpen(state: SessionState): boolean {
    return ctx.sessions.get(state.sid) === state;
  }

  function refuse(info: SessionInfo, state: SessionState, reason: ConnectRefusal): SmtpReply {
    const r = refusalReply(reason);
    if (stillOpen(state)) {
      state.connectLogged = true;
      ctx.events.emit({
        event: 'connect',
        sid: info.sid,
        remoteAddress: info.remoteAddress,
        refused: `${r.code} ${r.enhanced}`,
        reason,
      });
    }
    return r;
  }
}
