// observability/quiet-probes: which session lines are written at which level, and in which order.
// A real pino logger at debug writes into memory; the lines are parsed back.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createEventSink, type LogEvent } from '../../src/observability/events.js';
import { isLoopback } from '../../src/observability/quiet-probes.js';

interface Line {
  readonly level: string;
  readonly event: string;
  readonly sid?: string;
}

/** An event sink over a debug-level pino logger, and what it wrote as [level, event, sid]. */
function sinkAtDebug(): { emit(e: LogEvent): void; written(): string[][]; seen: LogEvent[] } {
  const lines: Line[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const log = pino({ level: 'debug', base: null, formatters: { level: (label) => ({ level: label }) } }, out);
  const sink = createEventSink(log);
  const seen: LogEvent[] = [];
  sink.subscribe((e) => seen.push(e));
  return {
    emit: (e) => sink.emit(e),
    written: () => lines.map((l) => [l.level, l.event, l.sid ?? '']),
    seen,
  };
}

const connect = (sid: string, remoteAddress: string): LogEvent => ({ event: 'connect', sid, remoteAddress });
const close = (sid: string): LogEvent => ({ event: 'close', sid });
const rcpt = (sid: string): LogEvent => ({
  event: 'rcpt',
  sid,
  from: 'a@b.example',
  rcpt: 'x@example.test',
  decision: 'reject',
  code: 550,
  reason: 'user-unknown',
});

describe('isLoopback', () => {
  it.each<[string, boolean]>([
    ['127.0.0.1', true],
    ['127.45.6.7', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['10.0.2.2', false],
    ['172.17.0.1', false],
    ['::ffff:192.0.2.1', false],
    ['2001:db8::1', false],
    ['0.0.0.0', false],
    ['', false],
    ['localhost', false],
  ])('%j → %s', (address, expected) => {
    expect(isLoopback(address)).toBe(expected);
  });
});

describe('session lines and their level', () => {
  it('a loopback session with only connect and close (the health probe) is written at debug', () => {
    const s = sinkAtDebug();
    s.emit(connect('p1', '127.0.0.1'));
    expect(s.written()).toEqual([]); // held until the session shows what it is
    s.emit(close('p1'));
    expect(s.written()).toEqual([
      ['debug', 'connect', 'p1'],
      ['debug', 'close', 'p1'],
    ]);
  });

  it('the same over IPv6 and IPv4-mapped loopback', () => {
    const s = sinkAtDebug();
    s.emit(connect('a', '::1'));
    s.emit(connect('b', '::ffff:127.0.0.1'));
    s.emit(close('b'));
    s.emit(close('a'));
    expect(s.written().map(([level]) => level)).toEqual(['debug', 'debug', 'debug', 'debug']);
  });

  it('a loopback session that sends RCPT is written at info, its connect line first', () => {
    const s = sinkAtDebug();
    s.emit(connect('c1', '127.0.0.1'));
    s.emit(rcpt('c1'));
    s.emit(close('c1'));
    expect(s.written()).toEqual([
      ['info', 'connect', 'c1'],
      ['info', 'rcpt', 'c1'],
      ['info', 'close', 'c1'],
    ]);
  });

  it('a loopback session with a command beyond EHLO/HELO/NOOP/RSET/QUIT is written at info; the command signal itself at debug', () => {
    const s = sinkAtDebug();
    s.emit(connect('v1', '127.0.0.1'));
    s.emit({ event: 'command', sid: 'v1', command: 'VRFY' });
    s.emit(close('v1'));
    s.emit(connect('r1', '192.0.2.1'));
    s.emit({ event: 'command', sid: 'r1', command: 'MAIL' });
    expect(s.written()).toEqual([
      ['info', 'connect', 'v1'],
      ['debug', 'command', 'v1'],
      ['info', 'close', 'v1'],
      ['info', 'connect', 'r1'],
      ['debug', 'command', 'r1'],
    ]);
  });

  it('a timeout or an error in a loopback session makes it an info session too', () => {
    const s = sinkAtDebug();
    s.emit(connect('t1', '127.0.0.1'));
    s.emit({ event: 'timeout', sid: 't1', limit: 'session', code: '421 4.4.2', reason: 'session-timeout' });
    s.emit(close('t1'));
    s.emit(connect('e1', '127.0.0.1'));
    s.emit({ event: 'error', where: 'rcpt', sid: 'e1', error: 'boom', reason: 'internal-error' });
    s.emit(close('e1'));
    expect(s.written()).toEqual([
      ['info', 'connect', 't1'],
      ['info', 'timeout', 't1'],
      ['info', 'close', 't1'],
      ['info', 'connect', 'e1'],
      ['error', 'error', 'e1'],
      ['info', 'close', 'e1'],
    ]);
  });

  it('a remote client is written at info at once, even when it only connects and leaves', () => {
    const s = sinkAtDebug();
    s.emit(connect('r1', '192.0.2.1'));
    expect(s.written()).toEqual([['info', 'connect', 'r1']]);
    s.emit(close('r1'));
    expect(s.written()).toEqual([
      ['info', 'connect', 'r1'],
      ['info', 'close', 'r1'],
    ]);
  });

  it('a refused loopback connection is written at info at once (a refusal is news)', () => {
    const s = sinkAtDebug();
    s.emit({ ...connect('x1', '127.0.0.1'), refused: '421 4.7.0', reason: 'max-connections' } as LogEvent);
    s.emit(close('x1'));
    expect(s.written()).toEqual([
      ['info', 'connect', 'x1'],
      ['info', 'close', 'x1'],
    ]);
  });

  it('interleaved sessions keep their own order; events without a sid pass straight through', () => {
    const s = sinkAtDebug();
    s.emit(connect('q', '127.0.0.1'));
    s.emit(connect('m', '127.0.0.1'));
    s.emit({ event: 'purge', deleted: 2 });
    s.emit(rcpt('m'));
    s.emit(close('q'));
    s.emit(close('m'));
    expect(s.written()).toEqual([
      ['info', 'purge', ''],
      ['info', 'connect', 'm'],
      ['info', 'rcpt', 'm'],
      ['debug', 'connect', 'q'],
      ['debug', 'close', 'q'],
      ['info', 'close', 'm'],
    ]);
  });

  it('listeners (metrics) get every event at once, whatever the log level', () => {
    const s = sinkAtDebug();
    s.emit(connect('p', '127.0.0.1'));
    expect(s.seen).toEqual([connect('p', '127.0.0.1')]);
    s.emit(close('p'));
    expect(s.seen.map((e) => e.event)).toEqual(['connect', 'close']);
  });
});
