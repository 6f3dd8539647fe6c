// The pure parts of the sealed quarantine (#14) as tables, and the store's access record against a
// real directory: recipients and identities, what a sealed entry's JSON keeps, orphans after a crash,
// who reads, and appends from several writers at once.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, describe, expect, it } from 'vitest';
import { ageRecipientProblem } from '../../src/config/age-recipient.js';
import { quarantineSchema } from '../../src/config/schema.js';
import { formatEntryTable, openedText } from '../../src/cli/quarantine-list.js';
import { OTHER_KEY_SUBJECT, SEALED_SUBJECT } from '../../src/cli/quarantine-list-sealed.js';
import { LOGGED_IDS, loggedIds } from '../../src/quarantine/purge.js';
import { resolveReader } from '../../src/cli/quarantine-access.js';
import { decodeComposedNotices, encodeComposedNotices } from '../../src/quarantine/composed-notice.js';
import { sealedMetadata, type QuarantineEntry } from '../../src/quarantine/entry.js';
import { openSealed, parseIdentityFile, readAllOf, WrongIdentityError } from '../../src/quarantine/seal.js';
import { sealedOrphans } from '../../src/quarantine/sealed-leftovers.js';
import { createQuarantineStore } from '../../src/quarantine/store.js';
import { commitEntry, sampleEntry } from '../helpers/quarantine-entry.js';

// generated once with age-keygen; the recipient is that identity's
const RECIPIENT = 'age1qt02n0jhyrpq0vgqglv0vc6j2625duhyrux338vvj0t75sfcj9vqntzdlj';

describe('quarantine.sealTo', () => {
  it.each([
    [RECIPIENT, null],
    [RECIPIENT.slice(0, -1) + (RECIPIENT.endsWith('j') ? 'k' : 'j'), /checksum does not match/],
    ['age1xyz', /age1 and 58 more characters/],
    [RECIPIENT.toUpperCase(), /age1 and 58 more characters/],
    [`age1${'b'.repeat(58)}`, /outside Bech32: "b"/],
    ['AGE-SECRET-KEY-1QQQQ', /expected an age X25519 recipient/],
    ['ssh-ed25519 AAAAC3Nz', /expected an age X25519 recipient/],
  ])('%s → %s', (input, problem) => {
    const r = ageRecipientProblem(input);
    if (problem === null) expect(r).toBeNull();
    else expect(r).toMatch(problem);
  });

  it('is checked by the schema, named by its key path', () => {
    expect(quarantineSchema.safeParse({ sealTo: ` ${RECIPIENT} ` }).data?.sealTo).toBe(RECIPIENT);
    const bad = quarantineSchema.safeParse({ sealTo: 'age1nope' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['sealTo']);
  });
});

describe('an identity file', () => {
  it('is age-keygen output: comments and one or more AGE-SECRET-KEY-1… lines', async () => {
    const key = await generateX25519Identity();
    expect(parseIdentityFile(`# created: 2026-12-01\n# public key: ${RECIPIENT}\n${key}\n`)).toEqual({
      ok: true,
      identities: [key],
    });
    expect(parseIdentityFile('')).toMatchObject({ ok: false, error: 'holds no AGE-SECRET-KEY-1… line' });
    expect(parseIdentityFile('# only a comment\n')).toMatchObject({ ok: false });
    expect(parseIdentityFile(`${RECIPIENT}\n`)).toMatchObject({ ok: false, error: /not an age identity/ });
    expect(parseIdentityFile('AGE-SECRET-KEY-1NOTAKEY\n')).toMatchObject({
      ok: false,
      error: /not a valid age identity/,
    });
  });

  it('opens what was sealed to its recipient; another identity is WrongIdentityError before any byte', async () => {
    const id = await generateX25519Identity();
    const other = await generateX25519Identity();
    const enc = new Encrypter();
    enc.addRecipient(await identityToRecipient(id));
    const sealed = Buffer.from(await enc.encrypt('Subject: x\r\n\r\nbody\r\n'));
    const plain = await openSealed(Readable.from([sealed]), [other, id]);
    expect((await readAllOf(plain)).toString()).toBe('Subject: x\r\n\r\nbody\r\n');
    await expect(openSealed(Readable.from([sealed]), [other])).rejects.toBeInstanceOf(WrongIdentityError);
  });
});

const entry = sampleEntry;

describe("a sealed entry's JSON", () => {
  it('keeps what list, retention and the outbox need, and no Subject or Message-ID', () => {
    const e = entry();
    const s = sealedMetadata(e);
    expect(s).toEqual({ ...e, sealed: true, subject: null, messageId: null });
    expect(JSON.stringify(s)).not.toContain('4711');
  });

  it('composed notices survive their file byte for byte', () => {
    const raw = Buffer.from('Subject: Undelivered \xe9\r\n\r\ntext\r\n', 'latin1');
    const text = encodeComposedNotices([
      { domain: 'example.test', to: 'orders@shop.example', messageId: '<n@x>', raw },
    ]);
    expect(decodeComposedNotices(text)?.[0]?.raw.equals(raw)).toBe(true);
    expect(decodeComposedNotices('{"notices": [{}]}')).toBeNull();
    expect(decodeComposedNotices('not json')).toBeNull();
  });
});

describe('sealed files left by a crash', () => {
  it.each([
    [['a.json', 'a.eml.age', 'a.notice.json'], []],
    [['b.eml.age'], [['b.eml.age', 'b']]],
    [
      ['c.eml.age', 'c.notice.json'],
      [
        ['c.eml.age', 'c'],
        ['c.notice.json', 'c'],
      ],
    ],
    [['.d.host.eml.tmp', 'd.eml'], []],
  ])('%j → %j', (names, orphans) => {
    expect(sealedOrphans(names)).toEqual(orphans);
  });
});

describe('who reads', () => {
  it.each([
    [undefined, { ok: true, by: 'os-user' }],
    ['auditor', { ok: true, by: 'auditor' }],
    ['  Jane Doe ', { ok: true, by: 'Jane Doe' }],
    ['', { ok: false }],
    ['x'.repeat(65), { ok: false }],
    ['evil\u001b[31m', { ok: false }],
    ['rtl\u202e', { ok: false }],
  ])('--as %j → %j', (as, want) => {
    expect(resolveReader(as, () => 'os-user')).toMatchObject(want);
  });

  it.each([
    [[], 'no'],
    [[{ at: 't', action: 'show', by: 'a' }], '1× (last: a)'],
    [
      [
        { at: 't', action: 'show', by: 'a' },
        { at: 'u', action: 'show-raw', by: 'b' },
      ],
      '2× (last: b)',
    ],
  ])('OPENED for %j is %s', (access, text) => {
    expect(openedText(access)).toBe(text);
  });
});

describe('the access record', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-access-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every append when several processes write at once, and the notice state beside them', async () => {
    const store = createQuarantineStore(dir);
    const id = await commitEntry(store, entry({ subject: null }));
    // two stores: the server's and a command's, each reading and rewriting the same JSON
    const other = createQuarantineStore(dir);
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => store.appendAccess(id, { at: `t${i}`, action: 'show', by: `a${i}` })),
      ...Array.from({ length: 10 }, (_, i) => other.appendAccess(id, { at: `u${i}`, action: 'show-raw', by: `b${i}` })),
      other.updateNotice(id, { status: 'sent', attempts: 1 }),
    ]);
    const written = JSON.parse(readFileSync(path.join(dir, `${id}.json`), 'utf8')) as QuarantineEntry;
    expect(written.access).toHaveLength(20);
    expect(written.notice.status).toBe('sent');
    expect(new Set(written.access.map((a) => a.by)).size).toBe(20);
  });
});

describe('the SUBJECT of a sealed entry in the list', () => {
  // addresses long enough that the table must narrow the subject column to its minimum
  const wide = entry({
    sealed: true,
    subject: null,
    mailFrom: 'a-very-long-bounce-address+0123456789abcdef@newsletters.shop.example',
    recipients: ['somebody.with.a.long.name@example.test'],
  });
  it.each([
    ['sealed to another key (list --identity with a rotated key)', OTHER_KEY_SUBJECT],
    ['not decrypted (list without --identity)', SEALED_SUBJECT],
    ['unreadable', '(unreadable: EACCES)'],
  ])('%s: printed whole, never cut to fit', (_, text) => {
    const table = formatEntryTable([wide], new Map([[wide.id, text]]));
    expect(table).toContain(text);
    expect(table).not.toContain('…');
  });
  it('a real Subject still gives way when the row is too wide', () => {
    const e = { ...wide, sealed: false, subject: 'A subject much longer than the column can hold at this width' };
    expect(formatEntryTable([e])).toContain('…');
  });
});

describe('the ids a purge event names', () => {
  it.each([
    [0, { ids: [] }],
    [3, { ids: ['i0', 'i1', 'i2'] }],
    [LOGGED_IDS, { ids: Array.from({ length: LOGGED_IDS }, (_, i) => `i${i}`) }],
    [LOGGED_IDS + 22, { ids: Array.from({ length: LOGGED_IDS }, (_, i) => `i${i}`), more: 22 }],
  ])('%i deleted: %j', (n, expected) => {
    expect(loggedIds(Array.from({ length: n }, (_, i) => `i${i}`))).toEqual(expected);
  });
});
