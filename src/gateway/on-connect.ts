// A new connection: counted, or refused with the reason policy/connect.ts gives.
import { decideConnect, type ConnectRefusal } from '../policy/connect.js';
import { clientKey } from '../address/ip.js';
import type { SessionInfo } from '../smtp/server.js';
import { replies, type SmtpReply } from '../smtp/replies.js';
import type { GatewayContext } from './context.js';

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
    const open = ctx.connections.counts(state.ip);
    const outcome = decideConnect({
      shuttingDown: ctx.deps.isShuttingDown(),
      unknownForIp: ctx.unknownBudget.used(state.ip),
      openTotal: open.total,
      openForIp: open.forIp,
      limits: server,
    });
    if (outcome.kind === 'proceed') {
      ctx.connections.open(state.ip);
      state.counted = true;
      ctx.events.emit({ event: 'connect', sid: info.sid, remoteAddress: info.remoteAddress });
      return null;
    }
    const r = refusalReply(outcome.reason);
    ctx.events.emit({
      event: 'connect',
      sid: info.sid,
      remoteAddress: info.remoteAddress,
      refused: `${r.code} ${r.enhanced}`,
      reason: outcome.reason,
    });
    return r;
  };
}
