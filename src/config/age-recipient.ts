// quarantine.sealTo is checked at load time, without loading the age library (`probe` and `check`
// stay fast): an X25519 recipient is the Bech32 encoding (BIP 173) of 32 bytes under the prefix `age`,
// so a mistyped character fails the checksum here instead of every sealed message at run time. Pure.

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i] ?? 0;
  }
  return chk;
}

/** Why `s` is not an age X25519 recipient, or null when it is one. */
export function ageRecipientProblem(s: string): string | null {
  const shape = 'expected an age X25519 recipient: age1 and 58 more characters, as age-keygen prints it';
  if (s !== s.toLowerCase() || !s.startsWith('age1') || s.length !== 62) return shape;
  const data: number[] = [];
  for (const c of s.slice(4)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return `${shape} (a character outside Bech32: "${c}")`;
    data.push(v);
  }
  const hrp = 'age';
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  if (polymod([...expanded, ...data]) !== 1)
    return 'not a valid age recipient: its checksum does not match (a mistyped character?)';
  return null;
}
