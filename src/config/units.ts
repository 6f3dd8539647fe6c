// Parsing of the size and duration forms that SPEC §3 allows: a bare number, or a number with a unit.

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  k: 1024,
  mb: 1024 ** 2,
  m: 1024 ** 2,
  gb: 1024 ** 3,
  g: 1024 ** 3,
};

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export type UnitResult = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly error: string };

/** Bytes from `1234`, `"1234"`, `"25MB"`, `"512 kb"`. Binary multiples, as mail administrators expect of MB. */
export function parseSize(input: unknown): UnitResult {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0
      ? { ok: true, value: input }
      : { ok: false, error: 'expected a whole number of bytes or a size such as 25MB' };
  }
  if (typeof input !== 'string') return { ok: false, error: 'expected a whole number of bytes or a size such as 25MB' };
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = m?.[2]?.toLowerCase() || 'b';
  const factor = SIZE_UNITS[unit];
  if (!m || factor === undefined)
    return { ok: false, error: `invalid size "${input}": use bytes or a unit B, KB, MB, GB` };
  return { ok: true, value: Math.round(Number(m[1]) * factor) };
}

/** Milliseconds from a number of seconds or a string such as `100ms`, `30s`, `15m`, `24h`, `14d`. */
export function parseDuration(input: unknown): UnitResult {
  if (typeof input === 'number') {
    return Number.isFinite(input) && input >= 0
      ? { ok: true, value: Math.round(input * 1000) }
      : { ok: false, error: 'expected a number of seconds or a duration such as 30s' };
  }
  if (typeof input !== 'string') return { ok: false, error: 'expected a number of seconds or a duration such as 30s' };
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = m?.[2]?.toLowerCase() || 's';
  const factor = DURATION_UNITS_MS[unit];
  if (!m || factor === undefined)
    return { ok: false, error: `invalid duration "${input}": use a unit ms, s, m, h, d or w` };
  return { ok: true, value: Math.round(Number(m[1]) * factor) };
}
