import { describe, expect, it } from 'vitest';
import { earliestDue } from '../../src/notice/due-order.js';

const map = (entries: Array<[string, number]>): Map<string, number> => new Map(entries);
const none = { has: (): boolean => false };

describe('earliestDue: the few notices the outbox starts next', () => {
  it.each<[string, Array<[string, number]>, string[], number, number, string[]]>([
    ['nothing waiting', [], [], 100, 4, []],
    ['no free slot', [['a', 1]], [], 100, 0, []],
    [
      'not due yet is left',
      [
        ['a', 200],
        ['b', 50],
      ],
      [],
      100,
      4,
      ['b'],
    ],
    ['due exactly now is taken', [['a', 100]], [], 100, 4, ['a']],
    [
      'earliest first',
      [
        ['c', 30],
        ['a', 10],
        ['b', 20],
      ],
      [],
      100,
      4,
      ['a', 'b', 'c'],
    ],
    [
      'only as many as free slots',
      [
        ['c', 30],
        ['a', 10],
        ['d', 40],
        ['b', 20],
      ],
      [],
      100,
      2,
      ['a', 'b'],
    ],
    [
      'a running one is skipped',
      [
        ['a', 10],
        ['b', 20],
        ['c', 30],
      ],
      ['a'],
      100,
      2,
      ['b', 'c'],
    ],
    [
      'ties keep the order they were queued in',
      [
        ['x', 5],
        ['y', 5],
        ['z', 5],
      ],
      [],
      100,
      2,
      ['x', 'y'],
    ],
    [
      'a late earlier one displaces a later pick',
      [
        ['b', 20],
        ['c', 30],
        ['a', 10],
      ],
      [],
      100,
      2,
      ['a', 'b'],
    ],
  ])('%s', (_name, entries, running, nowMs, count, expected) => {
    const busy = new Set(running);
    expect(earliestDue(map(entries), busy, nowMs, count)).toEqual(expected);
  });

  it('matches a full sort on 2,000 random waiting entries', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 1000;
    const due = new Map<number, number>();
    for (let i = 0; i < 2000; i++) due.set(i, Math.floor(rnd()));
    const running = new Set([3, 17, 256]);
    const sorted = [...due]
      .filter(([id, at]) => at <= 600 && !running.has(id))
      .sort((a, b) => a[1] - b[1] || a[0] - b[0])
      .slice(0, 4)
      .map(([id]) => id);
    expect(earliestDue(due, running, 600, 4)).toEqual(sorted);
    expect(earliestDue(due, none, -1, 4)).toEqual([]);
  });
});
