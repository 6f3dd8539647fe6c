// Every session's close has a connect line before it (README "Logs"). A client that hung up during
// greetDelay never reached onConnect, and its close stood alone (walkthrough #15): now its close writes
// `connect` with `reason: client-gone` first. An early talker keeps its one refused connect line.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/observability/events.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

const LOOPBACK: unknown = expect.stringMatching(/127\.0\.0\.1$/);

let t: TestApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

/** The connect and close events of one session, in the order they were emitted. */
function sessionEvents(app: TestApp, sid: string): LogEvent[] {
  return app.events.all.filter((e) => (e.event === 'connect' || e.event === 'close') && e.sid === sid);
}

async function connectThen(port: number, act: (s: net.Socket) => void): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  act(socket);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return Buffer.concat(received).toString('latin1');
}

describe('connect and close come in pairs', () => {
  it('a client that hangs up during greetDelay: connect (reason client-gone) then close, nothing sent to it', async () => {
    t = await startApp({ server: { greetDelay: '2s' } });
    const app = t;
    const got = await connectThen(app.port, (s) => setTimeout(() => s.destroy(), 100));
    expect(got).toBe('');
    const close = await app.events.waitFor('close');
    expect(sessionEvents(app, close.sid)).toEqual([
      {
        event: 'connect',
        sid: close.sid,
        remoteAddress: LOOPBACK,
        reason: 'client-gone',
      },
      { event: 'close', sid: close.sid },
    ]);
    // the greeting timer that fires later does not judge or log the gone session
    await new Promise((r) => setTimeout(r, 2200));
    expect(app.events.of('connect')).toHaveLength(1);
  });

  it('an early talker: one refused connect line, then close', async () => {
    t = await startApp({ server: { greetDelay: '1s' } });
    const app = t;
    const got = await connectThen(app.port, (s) => s.write('EHLO eager.test\r\n'));
    expect(got).toMatch(/^554 5\.5\.1 /);
    const close = await app.events.waitFor('close');
    expect(sessionEvents(app, close.sid)).toEqual([
      {
        event: 'connect',
        sid: close.sid,
        remoteAddress: LOOPBACK,
        refused: '554 5.5.1',
        reason: 'early-talker',
      },
      { event: 'close', sid: close.sid },
    ]);
  });

  it('a session that was greeted: its one connect line, then close', async () => {
    t = await startApp();
    const app = t;
    const got = await connectThen(app.port, (s) => s.once('data', () => s.end('QUIT\r\n')));
    expect(got).toMatch(/^220 /);
    const close = await app.events.waitFor('close');
    expect(sessionEvents(app, close.sid)).toEqual([
      { event: 'connect', sid: close.sid, remoteAddress: LOOPBACK },
      { event: 'close', sid: close.sid },
    ]);
  });
});
