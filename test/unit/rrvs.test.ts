// RFC 7293's RRVS parameter value: a date-time, optionally ;C or ;R; a date alone is midnight UTC.
import { describe, expect, it } from 'vitest';
import { parseRrvs } from '../../src/address/rrvs.js';

describe('parseRrvs', () => {
  it.each<[string, ReturnType<typeof parseRrvs>]>([
    ['2019-04-01T00:00:00Z', { sinceMs: Date.parse('2019-04-01T00:00:00Z'), mode: null }],
    ['2019-04-01T02:00:00+02:00', { sinceMs: Date.parse('2019-04-01T00:00:00Z'), mode: null }],
    ['2019-04-01T00:00:00.5Z;R', { sinceMs: Date.parse('2019-04-01T00:00:00.500Z'), mode: 'R' }],
    ['2019-04-01;C', { sinceMs: Date.parse('2019-04-01T00:00:00Z'), mode: 'C' }],
    ['2019-04-01', { sinceMs: Date.parse('2019-04-01T00:00:00Z'), mode: null }],
    ['yesterday', null],
    ['2019-04-01T00:00:00', null],
    ['2019-04-01T00:00:00Z;X', null],
    ['2019-04-01T00:00:00Z;R;C', null],
    ['2019-13-45T00:00:00Z', null],
    ['', null],
  ])('%j → %j', (value, expected) => {
    expect(parseRrvs(value)).toEqual(expected);
  });
});
