/**
 * The processes of a chaos run: brokers (`bucketq broker` on the faulty store), producers and
 * workers (producer-process.ts, worker-process.ts). Each has a slot (`b0`, `w1`, ...); a process
 * killed by the nemesis is restarted in its slot under a new name (`w1.1`, the incarnation), so
 * the history tells incarnations apart and worker ids are never reused. A broker's `--id` is its
 * slot, as docs/operations.md advises (a stable id per broker): a restarted broker takes back the
 * topic its killed incarnation led at once, with a new epoch.
 *
 * Broker stdout lines "leading topic T (epoch N)" and "lost topic T ..." are recorded as leader
 * and fenced events in the history file `brokers.jsonl`, stamped when this process read them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CHILD_ENV, type ChildConfig } from './child-config.js';
import { HistoryWriter } from './history.js';

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

export type Role = 'broker' | 'producer' | 'worker';

export interface Member {
  slot: string;
  role: Role;
  /** The current incarnation's name. */
  name: string;
  incarnation: number;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines of stderr, for the report when something exits that should not. */
  stderr: string[];
  /** Set when this process is sent SIGKILL or SIGTERM: its exit is no crash. */
  exitExpected: boolean;
  /** Started up (a broker: listening); the nemesis leaves processes alone until then. */
  ready: boolean;
  /** A broker's URL, from its startup line. */
  url?: string;
}

export interface ClusterOptions {
  topic: string;
  /** The plain store URL, for clients. */
  store: string;
  /** The brokers' store URL, with the fault parameters; each incarnation adds its own `seed`. */
  brokerStore: string;
  historyDir: string;
  seed: number;
  brokerLeaseMs: number;
  /** bucketq broker --backlog SPEC (undefined: the broker's defaults). */
  backlog?: string | undefined;
  jobLeaseMs: number;
  rate: number;
}

export class Cluster {
  readonly members = new Map<string, Member>();
  /** The slot of the broker that last said it leads the topic. */
  leaderSlot: string | null = null;
  /** Processes that exited although nobody told them to. */
  readonly crashes: Array<{ name: string; code: number | null; signal: NodeJS.Signals | null; stderr: string[] }> = [];
  private readonly brokerLog: HistoryWriter;

  constructor(private readonly o: ClusterOptions) {
    this.brokerLog = new HistoryWriter(o.historyDir, 'brokers');
  }

  /** Starts (or restarts, as the next incarnation) the process of `slot`. Brokers resolve once listening. */
  async start(slot: string, role: Role): Promise<Member> {
    const prev = this.members.get(slot);
    const incarnation = prev ? prev.incarnation + 1 : 0;
    const name = `${slot}.${incarnation}`;
    const child = role === 'broker' ? this.spawnBroker(slot, incarnation) : this.spawnClient(role, name, slot, incarnation);
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => {
      stderr.push(l);
      if (stderr.length > 20) stderr.shift();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const member: Member = { slot, role, name, incarnation, child, exited, stderr, exitExpected: false, ready: role !== 'broker' };
    void exited.then((r) => {
      if (!member.exitExpected) this.crashes.push({ name, ...r, stderr });
    });
    this.members.set(slot, member);
    if (role === 'broker') await this.listening(member);
    member.ready = true;
    return member;
  }

  private spawnBroker(slot: string, incarnation: number): ChildProcess {
    const store = `${this.o.brokerStore}&seed=${this.seedOf(slot, incarnation)}`;
    const args = ['--import', 'tsx', MAIN, 'broker', '--store', store, '--listen', '127.0.0.1:0', '--id', slot, '--lease-ms', String(this.o.brokerLeaseMs), ...(this.o.backlog ? ['--backlog', this.o.backlog] : [])];
    return spawn(process.execPath, args, { env: { ...process.env, BUCKETQ_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  private spawnClient(role: Role, name: string, slot: string, incarnation: number): ChildProcess {
    const config: ChildConfig = {
      name,
      store: this.o.store,
      topic: this.o.topic,
      historyDir: this.o.historyDir,
      // Each producer's job mix is its own seeded sequence (a restart would repeat it with new ids).
      seed: this.seedOf(slot, incarnation),
      rate: this.o.rate,
      leaseMs: this.o.jobLeaseMs,
      // Odd worker slots (w1, w3, ...) claim ahead: held jobs, their heartbeats and the release at close face the nemesis too.
      ...(role === 'worker' ? { prefetch: Number(slot.slice(1)) % 2 === 1 ? 8 : 0 } : {}),
    };
    const file = join(import.meta.dirname, role === 'producer' ? 'producer-process.ts' : 'worker-process.ts');
    return spawn(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, [CHILD_ENV]: JSON.stringify(config) }, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** Each process's own seed (store faults, job mix), derived from the run's. */
  private seedOf(slot: string, incarnation: number): number {
    return (this.o.seed * 1000 + hash(slot) * 10 + incarnation) >>> 0;
  }

  /** Resolves on the startup line; records leader lines (on stdout or stderr) from then on. */
  private listening(member: Member): Promise<void> {
    const onLeaderLine = (line: string) => {
      const e = leaderLine(line, this.o.topic);
      if (!e) return;
      if (e.op === 'leader') this.leaderSlot = member.slot;
      this.brokerLog.record({ ...e, broker: member.name });
    };
    createInterface({ input: member.child.stderr! }).on('line', onLeaderLine);
    return new Promise((resolve, reject) => {
      createInterface({ input: member.child.stdout! }).on('line', (line) => {
        const listening = / listening on (\S+) /.exec(line);
        if (listening) {
          member.url = listening[1]!;
          resolve();
        } else onLeaderLine(line);
      });
      void member.exited.then(({ code, signal }) => reject(new Error(`broker ${member.name} exited (${code ?? signal}) before listening: ${member.stderr.join('\n')}`)));
    });
  }

  /** Sends `signal` to the slot's process if it is still alive. */
  signal(slot: string, signal: NodeJS.Signals): boolean {
    const m = this.members.get(slot);
    if (!m || m.child.exitCode !== null || m.child.signalCode !== null) return false;
    if (signal === 'SIGKILL' || signal === 'SIGTERM') m.exitExpected = true;
    return m.child.kill(signal);
  }

  /** SIGTERMs the members of `role` and waits for them; SIGKILLs those still alive after `graceMs`. */
  async stop(role: Role, graceMs: number): Promise<Array<{ name: string; code: number | null; signal: NodeJS.Signals | null; stderr: string[] }>> {
    const members = [...this.members.values()].filter((m) => m.role === role);
    return Promise.all(
      members.map(async (m) => {
        this.signal(m.slot, 'SIGCONT');
        this.signal(m.slot, 'SIGTERM');
        const timer = setTimeout(() => this.signal(m.slot, 'SIGKILL'), graceMs);
        const r = await m.exited;
        clearTimeout(timer);
        return { name: m.name, ...r, stderr: m.stderr };
      }),
    );
  }

  /** Kills everything at once (on an error of the run itself). */
  killAll(): void {
    for (const m of this.members.values()) {
      this.signal(m.slot, 'SIGKILL');
    }
  }

  close(): void {
    this.brokerLog.close();
  }
}

/**
 * A broker's leadership line: the plain "leading topic T (epoch N)" / "lost topic T ..." or a
 * JSON log record with event "leader" / "fenced" (src/server/broker-logs.ts).
 */
export function leaderLine(line: string, topic: string): { op: 'leader'; epoch: number } | { op: 'fenced' } | null {
  const plain = /^leading topic (\S+) \(epoch (\d+)\)$/.exec(line);
  if (plain) return plain[1] === topic ? { op: 'leader', epoch: Number(plain[2]) } : null;
  if (line.startsWith(`lost topic ${topic} `)) return { op: 'fenced' };
  if (!line.startsWith('{')) return null;
  try {
    const r = JSON.parse(line) as { event?: unknown; topic?: unknown; epoch?: unknown };
    if (r.topic !== topic) return null;
    if (r.event === 'leader' && typeof r.epoch === 'number') return { op: 'leader', epoch: r.epoch };
    if (r.event === 'fenced') return { op: 'fenced' };
  } catch {
    // Not JSON after all: not a leadership line.
  }
  return null;
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 97;
}
