// config/units: the size and duration forms SPEC §3 allows, table by table.
import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize } from '../../src/config/units.js';

const KB = 1024;
const MB = 1024 * 1024;
const GB = 1024 * MB;

describe('parseSize', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [1234, 1234],
    ['1234', 1234],
    ['25MB', 25 * MB],
    ['25mb', 25 * MB],
    ['25 MB', 25 * MB],
    ['512kb', 512 * KB],
    ['512KB', 512 * KB],
    ['512k', 512 * KB],
    ['1.5MB', Math.round(1.5 * MB)],
    ['1M', MB],
    ['2GB', 2 * GB],
    ['100B', 100],
    ['  7kb  ', 7 * KB],
  ])('%j → %d bytes', (input, bytes) => {
    expect(parseSize(input)).toEqual({ ok: true, value: bytes });
  });

  it.each<[unknown]>([
    ['25XB'],
    ['25 fortnights'],
    ['MB'],
    [''],
    ['   '],
    ['-5MB'],
    ['1e6'],
    ['25MB extra'],
    ['0x10'],
    [-1],
    [1.5],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [null],
    [undefined],
    [true],
    [{ value: 1 }],
  ])('%j is refused with a message', (input) => {
    // a string is quoted back with the units allowed; anything else is not a size at all
    expect(parseSize(input)).toEqual({
      ok: false,
      error:
        typeof input === 'string'
          ? `invalid size "${input}": use bytes or a unit B, KB, MB, GB`
          : 'expected a whole number of bytes or a size such as 25MB',
    });
  });

  it('names the bad input in the message', () => {
    expect(parseSize('25XB')).toEqual({ ok: false, error: 'invalid size "25XB": use bytes or a unit B, KB, MB, GB' });
  });
});

describe('parseDuration (milliseconds out)', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [30, 30_000],
    [0.5, 500],
    ['30', 30_000],
    ['100ms', 100],
    ['100MS', 100],
    ['30s', 30_000],
    ['30 s', 30_000],
    ['15m', 15 * 60_000],
    ['24h', 24 * 3_600_000],
    ['14d', 14 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['1.5h', 5_400_000],
  ])('%j → %d ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, value: ms });
  });

  it.each<[unknown]>([
    ['3 fortnights'],
    ['10y'],
    ['ms'],
    [''],
    ['-5s'],
    ['5s5'],
    ['1h30m'],
    [-1],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [null],
    [undefined],
    [false],
    [['30s']],
  ])('%j is refused with a message', (input) => {
    expect(parseDuration(input)).toEqual({
      ok: false,
      error:
        typeof input === 'string'
          ? `invalid duration "${input}": use a unit ms, s, m, h, d or w`
          : 'expected a number of seconds or a duration such as 30s',
    });
  });

  it('names the bad input in the message', () => {
    expect(parseDuration('3 fortnights')).toEqual({
      ok: false,
      error: 'invalid duration "3 fortnights": use a unit ms, s, m, h, d or w',
    });
  });
});
