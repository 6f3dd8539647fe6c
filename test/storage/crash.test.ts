// kill -9 under load (SPEC §4 Durability): 8 clients send messages with unique Message-IDs in a loop;
// after ~50 DATA acknowledgements the server gets SIGKILL, is restarted on the same data directory,
// and every acknowledged message must be there exactly once.
// NB: SIGKILL keeps the page cache, so this proves the ordering (250 only after rename into place),
// not the fsyncs; a power cut is not simulated.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { listFilesRecursive, pollUntil, queuedId, tempLeftovers } from '../helpers/files.js';
import { ensureBuilt } from '../helpers/fuzz-child.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';

const CLIENTS = 8;
const KILL_AFTER_ACKS = 50;

interface CrashRun {
  readonly dir: string;
  readonly dataDir: string;
  readonly acked: readonly string[];
  readonly sent: number;
  /** The spool file of the transaction stalled in DATA at the kill (relative to the data dir). */
  readonly stalledSpool: string;
  /** Temp files present right after the kill, before the restart (relative to the data dir). */
  readonly leftAfterKill: readonly string[];
  /** The same, once the restarted server is listening. */
  readonly leftAfterRestart: readonly string[];
  readonly restarted: ChildServer;
  readonly killedSignal: NodeJS.Signals | null;
}

/** Temp dirs and children to clean up, whatever happened. */
const dirs: string[] = [];
const children: ChildServer[] = [];

/** One client: a session per client, transactions back to back until the server goes away. */
async function clientLoop(
  port: number,
  client: number,
  rcpt: string,
  state: { acks: number; sent: number; stop: boolean },
  onAck: (mid: string) => void,
): Promise<void> {
  const { client: c, greeting } = await RawSmtp.connect(port);
  try {
    if (greeting?.code !== 220) return;
    if ((await c.cmd('EHLO load.client.test')).code !== 250) return;
    for (let n = 0; !state.stop; n++) {
      const mid = `<crash-${client}-${n}-${Date.now().toString(36)}@client.test>`;
      c.write(`MAIL FROM:<load${client}@client.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`);
      const [mail, to, data] = [await c.read(), await c.read(), await c.read()];
      if (mail.code !== 250 || to.code !== 250 || data.code !== 354) return;
      // 2–66 KB bodies, so that the kill also lands in the middle of a DATA transfer
      const body = `${'load line for the crash test, padding padding padding padding\r\n'.repeat(32 + ((client * 37 + n * 101) % 1024))}`;
      c.write(simpleMessage({ messageId: mid, subject: `crash ${client}/${n}`, body }) + '.\r\n');
      state.sent++;
      const r = await c.read(20_000);
      if (r.code === 250) onAck(mid);
      else return;
    }
  } catch {
    // the server was killed: the connection dies in the middle of something, which is the point
  } finally {
    c.close();
  }
}

async function crashRun(overrides: RawConfig, rcpt: string): Promise<CrashRun> {
  const { dir, configPath, dataDir } = writeConfig(baseConfig(overrides));
  dirs.push(dir);
  const env = { CATCHALL_GUARD_DATA_DIR: dataDir };
  const first = await spawnServer(configPath, env);
  children.push(first);
  const acked: string[] = [];
  const state = { acks: 0, sent: 0, stop: false };
  let leftAfterKill: string[] = [];
  let stalledSpool = '';
  let killedSignal: NodeJS.Signals | null = null;
  const stalled = (await RawSmtp.connect(first.port)).client;
  try {
    // one transaction is certainly in flight at the kill: DATA begun, half a message sent; over the
    // 64 KiB that the server holds in memory, so it is in a spool file
    await stalled.begin('stalled@client.test');
    expect((await stalled.cmd(`RCPT TO:<${rcpt}>`)).code).toBe(250);
    expect((await stalled.cmd('DATA')).code).toBe(354);
    stalled.write(
      `Subject: stalled\r\nMessage-ID: <stalled@client.test>\r\n\r\n${'half a message, '.repeat(16).concat('\r\n').repeat(400)}`,
    );
    const spooled = await pollUntil(
      () => {
        const files = listFilesRecursive(path.join(dataDir, 'spool'));
        return files.length > 0 ? files : undefined;
      },
      'the stalled spool file',
      5000,
    );
    // the only transaction so far: its spool file is the one
    expect(spooled).toHaveLength(1);
    stalledSpool = `spool/${spooled[0] ?? ''}`;
    const loops = Array.from({ length: CLIENTS }, (_, i) =>
      clientLoop(first.port, i, rcpt, state, (mid) => {
        acked.push(mid);
        if (acked.length >= KILL_AFTER_ACKS && !state.stop) {
          state.stop = true;
          first.proc.kill('SIGKILL');
        }
      }),
    );
    const bounded = new Promise<void>((resolve) => setTimeout(resolve, 60_000).unref());
    await Promise.race([Promise.allSettled(loops), bounded]);
    state.stop = true;
    first.proc.kill('SIGKILL');
    killedSignal = (await first.exited).signal;
    leftAfterKill = tempLeftovers(dataDir);
  } finally {
    stalled.close();
    first.proc.kill('SIGKILL');
  }
  const restarted = await spawnServer(configPath, env);
  children.push(restarted);
  return {
    dir,
    dataDir,
    acked,
    sent: state.sent,
    stalledSpool,
    leftAfterKill,
    // the restarted server's own work in progress (it records the entries' SPF/DMARC evidence at once)
    // is not a leftover of the crash: its temp names carry its pid
    leftAfterRestart: tempLeftovers(dataDir).filter((f) => !f.includes(`.${restarted.proc.pid}.`)),
    restarted,
    killedSignal,
  };
}

/** Message-ID → number of maildir new/ files that carry it. */
function messageIdsInNew(dataDir: string): Map<string, number> {
  const counts = new Map<string, number>();
  const root = path.join(dataDir, 'mail');
  for (const f of listFilesRecursive(root)) {
    const parts = f.split(path.sep);
    if (parts[parts.length - 2] !== 'new') continue;
    const text = readFileSync(path.join(root, f), 'utf8');
    const head = text.slice(0, Math.max(0, text.indexOf('\r\n\r\n')) || text.length);
    const m = /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(head);
    const id = m?.[1] ?? `(none: ${f})`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

beforeAll(async () => {
  await ensureBuilt();
}, 120_000);

afterAll(async () => {
  for (const c of children) {
    c.proc.kill('SIGKILL');
    await c.exited;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('kill -9 under load, Maildir delivery', () => {
  let run: CrashRun;
  beforeAll(async () => {
    run = await crashRun({}, 'alice@example.test');
  }, 120_000);

  it('every acknowledged Message-ID is in maildir new/ exactly once after the restart', () => {
    expect(run.killedSignal).toBe('SIGKILL');
    expect(run.acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    const inNew = messageIdsInNew(run.dataDir);
    const found = run.acked.filter((m) => inNew.has(m));
    const extra = [...inNew.keys()].filter((m) => !run.acked.includes(m));
    console.log(
      `maildir crash: sent=${run.sent} acknowledged=${run.acked.length} found=${found.length} ` +
        `files in new/=${[...inNew.values()].reduce((a, b) => a + b, 0)} unacknowledged-but-stored=${extra.length} ` +
        `temp files after kill=${run.leftAfterKill.length} [${run.leftAfterKill.join(', ')}] after restart=${run.leftAfterRestart.length}`,
    );
    expect(run.acked.filter((m) => inNew.get(m) !== 1)).toEqual([]);
    // nothing in new/ is a torn file: each carries one of the Message-IDs the clients sent
    expect(extra.filter((m) => !m.startsWith('<crash-'))).toEqual([]);
  });

  it('the restarted server serves: a new message gets 250 and lands in new/', async () => {
    const before = messageIdsInNew(run.dataDir);
    const r = await sendMessage(run.restarted.port, {
      from: 'after@client.test',
      to: ['alice@example.test'],
      raw: simpleMessage({ messageId: '<after-crash@client.test>' }),
    });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
    const after = messageIdsInNew(run.dataDir);
    expect(before.has('<after-crash@client.test>')).toBe(false);
    expect(after.get('<after-crash@client.test>')).toBe(1);
  });

  it('a transaction in flight at the kill left its spool file behind (precondition of the next test)', () => {
    expect(run.leftAfterKill).toContain(run.stalledSpool);
  });

  // the spool of the killed process is cleaned at start (it is per host, so no other instance's is touched)
  it('no spool file of the killed process survives the restart', () => {
    expect(run.leftAfterRestart.filter((f) => f.startsWith('spool/'))).toEqual([]);
  });

  it('no half-delivered Maildir tmp/ file of the killed process survives the restart', () => {
    expect(run.leftAfterRestart.filter((f) => f.startsWith('mail/'))).toEqual([]);
  });
});

describe('kill -9 under load, quarantine mode (unknown recipient)', () => {
  let run: CrashRun;
  beforeAll(async () => {
    run = await crashRun(
      {
        domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
        notices: { enabled: false },
      },
      'nobody@example.test',
    );
  }, 120_000);

  function entries(): Map<string, { id: string; eml: boolean }[]> {
    const qdir = path.join(run.dataDir, 'quarantine');
    const byMid = new Map<string, { id: string; eml: boolean }[]>();
    for (const n of readdirSync(qdir)) {
      if (!n.endsWith('.json') || n.startsWith('.')) continue;
      const id = n.slice(0, -5);
      const meta = JSON.parse(readFileSync(path.join(qdir, n), 'utf8')) as {
        messageId?: unknown;
        recipients?: unknown;
      };
      const mid = typeof meta.messageId === 'string' ? meta.messageId : `(none: ${id})`;
      const list = byMid.get(mid) ?? [];
      list.push({ id, eml: existsSync(path.join(qdir, `${id}.eml`)) });
      byMid.set(mid, list);
    }
    return byMid;
  }

  it('every acknowledged message has exactly one entry, .json and .eml, after the restart', () => {
    expect(run.killedSignal).toBe('SIGKILL');
    expect(run.acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    const byMid = entries();
    const found = run.acked.filter((m) => byMid.has(m));
    console.log(
      `quarantine crash: sent=${run.sent} acknowledged=${run.acked.length} found=${found.length} entries=${[...byMid.values()].reduce((a, b) => a + b.length, 0)} ` +
        `temp files after kill=${run.leftAfterKill.length} [${run.leftAfterKill.join(', ')}] after restart=${run.leftAfterRestart.length} [${run.leftAfterRestart.join(', ')}]`,
    );
    expect(run.acked.filter((m) => byMid.get(m)?.length !== 1)).toEqual([]);
    expect(run.acked.filter((m) => byMid.get(m)?.[0]?.eml !== true)).toEqual([]);
    // nothing was delivered: the recipient is unknown
    expect(messageIdsInNew(run.dataDir).size).toBe(0);
  });

  it('no quarantine .tmp files after the restart (cleanTemp runs at start), and no orphan .eml', () => {
    expect(run.leftAfterRestart.filter((f) => f.startsWith('quarantine/'))).toEqual([]);
    const qdir = path.join(run.dataDir, 'quarantine');
    const names = readdirSync(qdir);
    const orphans = names.filter((n) => n.endsWith('.eml') && !names.includes(`${n.slice(0, -4)}.json`));
    expect(orphans).toEqual([]);
  });

  it('the restarted server serves and quarantines a new message', async () => {
    const r = await sendMessage(run.restarted.port, {
      from: 'after@client.test',
      to: ['nobody@example.test'],
      raw: simpleMessage({ messageId: '<after-crash-q@client.test>' }),
    });
    const id = queuedId(r.response);
    expect(entries().get('<after-crash-q@client.test>')).toEqual([{ id, eml: true }]);
  });

  it('a transaction in flight at the kill left its spool file behind (precondition of the next test)', () => {
    expect(run.leftAfterKill).toContain(run.stalledSpool);
  });

  it('no spool file of the killed process survives the restart', () => {
    expect(run.leftAfterRestart.filter((f) => f.startsWith('spool/'))).toEqual([]);
  });
});
