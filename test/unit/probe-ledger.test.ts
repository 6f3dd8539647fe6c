// verify/probe-ledger: a place per ask (this process), and observe-mode probes per IP and hour in the
// state store, so two processes sharing one store (the workers of a host, or hosts sharing Redis)
// count against one allowance.
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/state/memory.js';
import { createProbeLedger } from '../../src/verify/probe-ledger.js';

describe('the probe ledger: asks under way', () => {
  it('counts the other asks under way when a place is taken; leaving twice counts once', () => {
    const ledger = createProbeLedger();
    const a = ledger.enter('192.0.2.1');
    const b = ledger.enter('192.0.2.1');
    const other = ledger.enter('198.51.100.7');
    expect([a.underWay, b.underWay, other.underWay]).toEqual([0, 1, 0]);
    a.leave();
    a.leave();
    expect(ledger.enter('192.0.2.1').underWay).toBe(1);
  });
});

describe('the probe ledger: observe probes per IP and hour, in the state store', () => {
  it('observe probes are counted for an hour from the first', async () => {
    let now = 1_000_000;
    const ledger = createProbeLedger({ state: createMemoryStore({ now: () => now }) });
    for (let i = 0; i < 3; i++) await ledger.spendObserve('192.0.2.1');
    expect(await ledger.observeSpent('192.0.2.1')).toBe(3);
    expect(await ledger.observeSpent('192.0.2.2')).toBe(0);
    now += 3_599_999;
    expect(await ledger.observeSpent('192.0.2.1')).toBe(3);
    now += 1;
    expect(await ledger.observeSpent('192.0.2.1')).toBe(0);
    await ledger.spendObserve('192.0.2.1');
    expect(await ledger.observeSpent('192.0.2.1')).toBe(1);
  });

  it.each([
    // [label, probes spent by process A, by process B, what either reads]
    ['none spent', 0, 0, 0],
    ['one process only', 5, 0, 5],
    ['both processes', 3, 4, 7],
  ])('two ledgers on one store (two workers): %s → %i', async (_label, byA, byB, expected) => {
    const store = createMemoryStore();
    const a = createProbeLedger({ state: store });
    const b = createProbeLedger({ state: store });
    for (let i = 0; i < byA; i++) await a.spendObserve('192.0.2.1');
    for (let i = 0; i < byB; i++) await b.spendObserve('192.0.2.1');
    expect([await a.observeSpent('192.0.2.1'), await b.observeSpent('192.0.2.1')]).toEqual([expected, expected]);
  });

  it('asks under way stay per process (each process has its own probe pool)', () => {
    const store = createMemoryStore();
    const a = createProbeLedger({ state: store });
    const b = createProbeLedger({ state: store });
    a.enter('192.0.2.1');
    expect(b.enter('192.0.2.1').underWay).toBe(0);
  });

  it('a store that fails counts nothing and never rejects (a probe more, never a refused RCPT)', async () => {
    const store = createMemoryStore();
    const failing = {
      ...store,
      count: () => Promise.reject(new Error('gone')),
      incr: () => Promise.reject(new Error('gone')),
    };
    const ledger = createProbeLedger({ state: failing });
    await expect(ledger.spendObserve('192.0.2.1')).resolves.toBeUndefined();
    await expect(ledger.observeSpent('192.0.2.1')).resolves.toBe(0);
  });
});
