// Seeded SMTP session generator for the fuzz suite: valid sessions, then mutated (bytes flipped,
// truncated, repeated, interleaved, garbage, CRLF/LF games), split into several writes. Pure: the
// same seed and index always give the same bytes, so one failing session can be replayed alone.

export type Rng = () => number;

/** mulberry32: a tiny 32-bit PRNG, good enough to drive a fuzzer and fully reproducible. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A per-session seed from the run seed and the session index (so sessions are independent). */
export function sessionSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
function pick<T>(rng: Rng, items: readonly T[]): T {
  const v = items[Math.floor(rng() * items.length)];
  if (v === undefined) throw new Error('pick from an empty list');
  return v;
}

const RECIPIENTS = [
  'alice@example.test',
  'bob@example.test',
  'shop-42@example.test',
  'nobody@example.test',
  'ALICE+tag@Example.Test',
  'postmaster@example.test',
  'postmaster',
  'someone@q.test',
  'alice@q.test',
  'stranger@o.test',
  'victim@elsewhere.test',
  'a%b@example.test',
  'a!b@example.test',
  '"a@b"@example.test',
  'alice@[127.0.0.1]',
  '@relay.test:alice@example.test',
  'jörg@example.test',
  '',
  'x'.repeat(70) + '@example.test',
];

const SENDERS = [
  'sender@client.test',
  '',
  'MAILER-DAEMON@client.test',
  'jörg@client.test',
  'bad address',
  's@' + 'd'.repeat(300),
];

const MAIL_PARAMS = [
  '',
  ' SIZE=1000',
  ' BODY=8BITMIME',
  ' SMTPUTF8',
  ' SIZE=99999999999',
  ' BODY=BINARYMIME',
  ' SIZE=',
  ' FOO=bar',
  ' SIZE=10 SIZE=20',
  ' RET=FULL',
];

const STRAY_COMMANDS = [
  'NOOP',
  'RSET',
  'HELP',
  'VRFY alice',
  'EXPN list',
  'STARTTLS',
  'AUTH PLAIN AGFsaWNlAHNlY3JldA==',
  'AUTH LOGIN',
  'BDAT 100 LAST',
  'TURN',
  'ETRN example.test',
  'HELO other.test',
  'EHLO',
  'XCLIENT ADDR=10.0.0.1',
  'XFORWARD NAME=spoofed',
  'GET / HTTP/1.1',
  'QUIT',
  'DATA',
  'MAIL FROM:<again@client.test>',
  'RCPT TO:<alice@example.test>',
  '.',
  '..',
  '',
  ' ',
  'MAIL FROM: <spaced@client.test>',
  'RCPT TO:alice@example.test',
  'mail from:<lower@client.test>',
];

export interface FuzzSession {
  /** What the session was built from, for the failure message. */
  readonly recipe: string[];
  /** Written in this order, with a short pause between writes. */
  readonly chunks: Buffer[];
  /** Wait for the 220 banner before writing (otherwise the client talks at once). */
  readonly waitGreeting: boolean;
}

function validSession(rng: Rng, marker: string, recipe: string[]): Buffer {
  const lines: string[] = [];
  lines.push(pick(rng, ['EHLO fuzz.client.test', 'HELO fuzz.client.test', 'EHLO [127.0.0.1]', 'ehlo x']));
  const transactions = int(rng, 1, 3);
  for (let t = 0; t < transactions; t++) {
    lines.push(`MAIL FROM:<${pick(rng, SENDERS)}>${pick(rng, MAIL_PARAMS)}`);
    const n = rng() < 0.1 ? int(rng, 5, 150) : int(rng, 1, 4);
    for (let r = 0; r < n; r++) lines.push(`RCPT TO:<${rng() < 0.6 ? 'alice@example.test' : pick(rng, RECIPIENTS)}>`);
    lines.push('DATA');
    const bodyLines = rng() < 0.05 ? int(rng, 500, 3000) : int(rng, 0, 12);
    const msg: string[] = [
      `From: Fuzz <sender@client.test>`,
      `To: alice@example.test`,
      `Subject: fuzz ${int(rng, 0, 1e6)}`,
      `Message-ID: <fuzz-${int(rng, 0, 1e9)}@client.test>`,
    ];
    if (rng() < 0.2) msg.push('Auto-Submitted: auto-generated', 'Precedence: bulk');
    msg.push('');
    for (let b = 0; b < bodyLines; b++) {
      const kind = rng();
      if (kind < 0.05) msg.push('..dot-stuffed line');
      else if (kind < 0.08) msg.push('x'.repeat(int(rng, 900, 5000)));
      else msg.push(`${marker} line ${b} ${'lorem ipsum '.repeat(int(rng, 0, 6))}`);
    }
    lines.push(msg.join('\r\n'));
    lines.push('.');
  }
  if (rng() < 0.7) lines.push('QUIT');
  recipe.push(`valid(${transactions} tx)`);
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 0, 255);
  return b;
}

function mutate(rng: Rng, input: Buffer, recipe: string[]): Buffer {
  let buf = input;
  const rounds = int(rng, 1, 3);
  for (let m = 0; m < rounds; m++) {
    const op = int(rng, 0, 8);
    const at = (): number => int(rng, 0, buf.length);
    switch (op) {
      case 0: {
        // flip bytes
        const n = int(rng, 1, 8);
        const copy = Buffer.from(buf);
        for (let i = 0; i < n && copy.length > 0; i++) copy[int(rng, 0, copy.length - 1)] = int(rng, 0, 255);
        buf = copy;
        recipe.push(`flip(${n})`);
        break;
      }
      case 1: {
        const cut = at();
        buf = buf.subarray(0, cut);
        recipe.push(`truncate(${cut})`);
        break;
      }
      case 2: {
        // repeat a slice
        const a = at();
        const b = Math.min(buf.length, a + int(rng, 1, 400));
        const times = int(rng, 2, 20);
        const slice = buf.subarray(a, b);
        buf = Buffer.concat([buf.subarray(0, b), ...Array.from({ length: times - 1 }, () => slice), buf.subarray(b)]);
        recipe.push(`repeat(${a}-${b}x${times})`);
        break;
      }
      case 3: {
        // interleave stray commands at line boundaries
        const n = int(rng, 1, 6);
        for (let i = 0; i < n; i++) {
          const nl = buf.indexOf('\n', at());
          const pos = nl < 0 ? buf.length : nl + 1;
          buf = Buffer.concat([
            buf.subarray(0, pos),
            Buffer.from(`${pick(rng, STRAY_COMMANDS)}\r\n`, 'utf8'),
            buf.subarray(pos),
          ]);
        }
        recipe.push(`interleave(${n})`);
        break;
      }
      case 4: {
        const n = rng() < 0.1 ? int(rng, 2000, 40_000) : int(rng, 1, 300);
        const pos = at();
        buf = Buffer.concat([buf.subarray(0, pos), randomBytes(rng, n), buf.subarray(pos)]);
        recipe.push(`garbage(${n}@${pos})`);
        break;
      }
      case 5: {
        // CRLF → LF everywhere, or at random places
        const all = rng() < 0.3;
        const s = buf.toString('latin1');
        buf = Buffer.from(
          all ? s.replace(/\r\n/g, '\n') : s.replace(/\r\n/g, (x) => (rng() < 0.3 ? '\n' : x)),
          'latin1',
        );
        recipe.push(all ? 'lf-all' : 'lf-some');
        break;
      }
      case 6: {
        // lone CRs and LFs
        const n = int(rng, 1, 10);
        for (let i = 0; i < n; i++) {
          const pos = at();
          buf = Buffer.concat([
            buf.subarray(0, pos),
            Buffer.from(pick(rng, ['\r', '\n', '\r\r\n', '\n.\n', '\r\n.\r\n', '\0'])),
            buf.subarray(pos),
          ]);
        }
        recipe.push(`crlf-noise(${n})`);
        break;
      }
      case 7: {
        // a very long line somewhere
        const n = pick(rng, [513, 999, 1001, 16_383, 16_385, 30_000]);
        const pos = at();
        buf = Buffer.concat([
          buf.subarray(0, pos),
          Buffer.alloc(n, pick(rng, [0x41, 0x20, 0x2e, 0x3c])),
          buf.subarray(pos),
        ]);
        recipe.push(`long-line(${n})`);
        break;
      }
      default: {
        // drop a slice
        const a = at();
        const b = Math.min(buf.length, a + int(rng, 1, 200));
        buf = Buffer.concat([buf.subarray(0, a), buf.subarray(b)]);
        recipe.push(`drop(${a}-${b})`);
      }
    }
  }
  return buf;
}

function split(rng: Rng, buf: Buffer, recipe: string[]): Buffer[] {
  const parts = rng() < 0.5 ? 1 : int(rng, 2, 8);
  if (parts === 1 || buf.length < 2) return [buf];
  const cuts = Array.from({ length: parts - 1 }, () => int(rng, 1, buf.length - 1)).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  recipe.push(`writes(${parts})`);
  return out.filter((b) => b.length > 0);
}

export function generateSession(rng: Rng, marker: string): FuzzSession {
  const recipe: string[] = [];
  const kind = rng();
  let buf: Buffer;
  if (kind < 0.12) {
    buf = validSession(rng, marker, recipe); // unmutated: keeps real transactions in the mix
  } else if (kind < 0.2) {
    buf = randomBytes(rng, int(rng, 1, 4000));
    recipe.push('garbage-only');
  } else if (kind < 0.25) {
    // random printable command-like lines
    const lines = Array.from(
      { length: int(rng, 1, 40) },
      () =>
        `${pick(rng, STRAY_COMMANDS)}${rng() < 0.3 ? ` ${randomBytes(rng, int(rng, 1, 40)).toString('latin1')}` : ''}`,
    );
    buf = Buffer.from(`${lines.join(rng() < 0.5 ? '\r\n' : '\n')}\r\n`, 'latin1');
    recipe.push('stray-commands');
  } else if (kind < 0.27) {
    buf = Buffer.alloc(0);
    recipe.push('silent');
  } else {
    buf = mutate(rng, validSession(rng, marker, recipe), recipe);
  }
  return { recipe, chunks: split(rng, buf, recipe), waitGreeting: rng() < 0.9 };
}
