// A real DNS server for tests: Debian's dnsmasq on 127.0.0.1, on a free UDP+TCP port, answering only
// from the zone a test describes (every other name is NXDOMAIN), never forwarding. Stopped by its PID.
// dnsmasq missing is an error, not a skip: a test that cannot reach its DNS must fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** Names are written without the trailing dot; a TXT string is one record, split in 255-octet pieces as publishers do. */
export interface DnsZone {
  readonly mx?: Readonly<Record<string, readonly MxRecord[]>>;
  readonly a?: Readonly<Record<string, readonly string[]>>;
  readonly aaaa?: Readonly<Record<string, readonly string[]>>;
  /** name → records; a record given as an array is its character-strings as they are. */
  readonly txt?: Readonly<Record<string, readonly (string | readonly string[])[]>>;
  /** IP address → the names its PTR records give. */
  readonly ptr?: Readonly<Record<string, readonly string[]>>;
}

export interface Dnsmasq {
  readonly port: number;
  /** As `dns.servers` takes it: "127.0.0.1:<port>". */
  readonly server: string;
  readonly pid: number;
  /** dnsmasq's own log, queries included: what to print when a test's DNS surprises it. */
  log(): string;
  stop(): Promise<void>;
}

const CANDIDATES = ['/usr/sbin/dnsmasq', '/usr/local/sbin/dnsmasq', '/sbin/dnsmasq'];

export function dnsmasqBinary(): string {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  for (const file of [...dirs.map((d) => path.join(d, 'dnsmasq')), ...CANDIDATES]) {
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here: the next place
    }
  }
  throw new Error(
    'dnsmasq is not installed, and these tests need a real DNS server: ' +
      '`apt-get install -y dnsmasq` (.ci/run installs it in CI)',
  );
}

/** The reverse-zone name of an address: `d.c.b.a.in-addr.arpa`, or the nibbles of an IPv6 address under ip6.arpa. */
export function reverseName(ip: string): string {
  const a = ipaddr.parse(ip);
  if (a.kind() === 'ipv4') return `${a.toByteArray().reverse().join('.')}.in-addr.arpa`;
  const hex = Buffer.from(a.toByteArray()).toString('hex');
  return `${[...hex].reverse().join('.')}.ip6.arpa`;
}

const bare = (name: string): string => name.replace(/\.$/, '').toLowerCase();

/** A quoted dnsmasq option value: backslashes and quotes escaped, commas and semicolons kept. */
const quoted = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function txtStrings(record: string | readonly string[]): readonly string[] {
  if (typeof record !== 'string') return record;
  const out: string[] = [];
  for (let i = 0; i < record.length; i += 255) out.push(record.slice(i, i + 255));
  return out.length ? out : [''];
}

function addressHex(ip: string, kind: 'ipv4' | 'ipv6'): string {
  const a = ipaddr.parse(ip);
  if (a.kind() !== kind) throw new Error(`${ip} is not an ${kind} address`);
  return Buffer.from(a.toByteArray()).toString('hex').toUpperCase();
}

/** The zone as dnsmasq options. A and AAAA are raw records (`dns-rr`), so no PTR appears unless the zone has one. */
export function zoneConfig(zone: DnsZone): string[] {
  const lines: string[] = [];
  for (const [name, records] of Object.entries(zone.mx ?? {}))
    for (const r of records) lines.push(`mx-host=${bare(name)},${bare(r.exchange)},${r.priority}`);
  for (const [name, ips] of Object.entries(zone.a ?? {}))
    for (const ip of ips) lines.push(`dns-rr=${bare(name)},1,${addressHex(ip, 'ipv4')}`);
  for (const [name, ips] of Object.entries(zone.aaaa ?? {}))
    for (const ip of ips) lines.push(`dns-rr=${bare(name)},28,${addressHex(ip, 'ipv6')}`);
  for (const [name, records] of Object.entries(zone.txt ?? {}))
    for (const r of records) lines.push(`txt-record=${bare(name)},${txtStrings(r).map(quoted).join(',')}`);
  for (const [ip, names] of Object.entries(zone.ptr ?? {}))
    for (const n of names) lines.push(`ptr-record=${reverseName(ip)},${bare(n)}`);
  return lines;
}

/** A port free for TCP and UDP on 127.0.0.1 a moment ago; start() retries if someone takes it meanwhile. */
async function freePort(): Promise<number> {
  const tcp = createServer();
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(0, '127.0.0.1', resolve);
  });
  const address = tcp.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const udp = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, '127.0.0.1', resolve);
    });
  } finally {
    udp.close();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }
  return port;
}

function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

async function startOnce(zone: DnsZone, binary: string): Promise<Dnsmasq | 'port-taken'> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-dnsmasq-'));
  const port = await freePort().catch(() => null);
  if (port === null) {
    rmSync(dir, { recursive: true, force: true });
    return 'port-taken';
  }
  const confFile = path.join(dir, 'dnsmasq.conf');
  writeFileSync(
    confFile,
    [
      `port=${port}`,
      'listen-address=127.0.0.1',
      'bind-interfaces',
      // every name not in the zone is answered NXDOMAIN here, never REFUSED or forwarded
      'local=/#/',
      ...zoneConfig(zone),
      '',
    ].join('\n'),
  );
  // --conf-file also keeps /etc/dnsmasq.conf (and the conf-dir it names) out
  const child = spawn(
    binary,
    [
      `--conf-file=${confFile}`,
      `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
      '--no-resolv',
      '--no-hosts',
      '--keep-in-foreground',
      '--log-facility=-',
      '--log-queries',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const keep = (c: Buffer): void => {
    // bounded: a chatty test must not grow the runner's memory
    log = (log + c.toString('utf8')).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const pid = child.pid;
  const cleanUp = (): void => rmSync(dir, { recursive: true, force: true });
  if (pid === undefined) {
    cleanUp();
    await new Promise<void>((resolve) => child.once('error', () => resolve()));
    throw new Error(`dnsmasq (${binary}) could not be started`);
  }
  // a test runner that dies must not leave a DNS server behind
  const onExit = (): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);

  const deadline = Date.now() + 10_000;
  // "started" is logged once dnsmasq holds its sockets: the TCP answer is then its own, not a squatter's
  const listening = async (): Promise<boolean> => /started, version/.test(log) && (await tcpAnswers(port));
  while (!exited(child) && !(await listening())) {
    if (Date.now() > deadline) {
      onExit();
      process.removeListener('exit', onExit);
      cleanUp();
      throw new Error(`dnsmasq did not listen on 127.0.0.1:${port} within 10 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (exited(child)) {
    process.removeListener('exit', onExit);
    cleanUp();
    if (/address already in use/i.test(log)) return 'port-taken';
    throw new Error(`dnsmasq exited at start (code ${String(child.exitCode)}):\n${log}`);
  }

  let stopping: Promise<void> | null = null;
  return {
    port,
    server: `127.0.0.1:${port}`,
    pid,
    log: () => log,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(force);
          process.removeListener('exit', onExit);
          cleanUp();
          resolve();
        };
        const force = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone between the two signals
          }
        }, 3000);
        if (exited(child)) {
          done();
          return;
        }
        child.once('exit', done);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          done();
        }
      });
      return stopping;
    },
  };
}

/** Starts dnsmasq with the zone; throws (never skips) when dnsmasq is missing or will not start. */
export async function startDnsmasq(zone: DnsZone): Promise<Dnsmasq> {
  const binary = dnsmasqBinary();
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await startOnce(zone, binary);
    if (r !== 'port-taken') return r;
  }
  throw new Error('dnsmasq: no free port on 127.0.0.1 after 5 tries');
}
