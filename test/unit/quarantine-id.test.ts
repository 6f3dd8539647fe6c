// quarantine/id: ids are [A-Za-z0-9_-], sort by time, and user input is checked (SPEC §5).
import { describe, expect, it } from 'vitest';
import { newMessageId, parseMessageId } from '../../src/quarantine/id.js';

const ID_CHARS = /^[A-Za-z0-9_-]+$/;

describe('newMessageId', () => {
  it('uses only [A-Za-z0-9_-] and is accepted by parseMessageId', () => {
    for (let i = 0; i < 2000; i++) {
      const id = newMessageId();
      expect(id).toMatch(ID_CHARS);
      // 9 characters of time, 3 of sequence, 8 random: well under the 64 parseMessageId allows
      expect(id.length).toBe(20);
      expect(parseMessageId(id)).toBe(id);
    }
  });

  it('sorts by time across milliseconds, seconds and years', () => {
    const times = [
      Date.UTC(2001, 0, 1),
      Date.UTC(2026, 10, 23, 10, 0, 0, 0),
      Date.UTC(2026, 10, 23, 10, 0, 0, 1),
      Date.UTC(2026, 10, 23, 10, 0, 1, 0),
      Date.UTC(2026, 10, 23, 11, 0, 0, 0),
      Date.UTC(2027, 0, 1),
      Date.UTC(2100, 0, 1),
    ];
    const ids = times.map((t) => newMessageId(new Date(t)));
    expect([...ids].sort()).toEqual(ids);
  });

  it('ids made in the same millisecond sort in the order they were made, and are unique', () => {
    const t = new Date(Date.UTC(2026, 10, 23, 12, 0, 0, 0));
    const ids = Array.from({ length: 1000 }, () => newMessageId(t));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });

  it('time order wins over the random part', () => {
    const a = newMessageId(new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 5)));
    const b = newMessageId(new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 6)));
    expect(a < b).toBe(true);
  });

  it('has a fixed length, so string order is time order', () => {
    const lengths = new Set(
      [Date.UTC(1971, 0, 1), Date.UTC(2026, 0, 1), Date.UTC(2999, 0, 1)].map((t) => newMessageId(new Date(t)).length),
    );
    expect([...lengths]).toEqual([20]);
  });
});

describe('parseMessageId', () => {
  it.each([['0abc123def000xyz'], ['A'], ['a-b_c'], ['x'.repeat(64)]])('accepts %j', (input) => {
    expect(parseMessageId(input)).toBe(input);
  });

  it.each([
    ['../x'],
    ['..'],
    ['.'],
    ['a/b'],
    ['a\\b'],
    ['/etc/passwd'],
    [''],
    ['x'.repeat(65)],
    ['abc.eml'],
    ['abc.json'],
    ['abc\n'],
    ['\nabc'],
    ['abc def'],
    ['abc%2f..'],
    ['äbc'],
    ['abc\x00'],
  ])('refuses %j', (input) => {
    expect(parseMessageId(input)).toBeNull();
  });
});
