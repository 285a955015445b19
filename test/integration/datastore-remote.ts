// The test's side of datastore-driver.ts: an etcd client living in a node
// netns, called as if it were local. Every wait is bounded.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Harness, Netns } from './harness';
import type { WatchEvent } from '../../lib/datastore/etcd-watch';

export interface RemoteError {
  error: string;
  name: string;
}

export class RemoteWatch {
  readonly events: WatchEvent[] = [];
  readonly connections: { up: boolean; reason?: string }[] = [];
  /** events handed to an onEvents that threw (see the driver's failFirst) */
  readonly failedEvents: WatchEvent[] = [];
  compactRevision?: number;
  private waiters: (() => void)[] = [];

  constructor(readonly id: number, private readonly remote: RemoteEtcd) {}

  deliver(msg: any): void {
    if (msg.events) this.events.push(...msg.events);
    if (msg.failedEvents) this.failedEvents.push(...msg.failedEvents);
    if (msg.compactRevision !== undefined) this.compactRevision = msg.compactRevision;
    if (msg.up !== undefined) this.connections.push({ up: msg.up, reason: msg.reason });
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `ready()` holds, re-checked at every message; rejects after `timeoutMs`. */
  async until(what: string, ready: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`watch ${this.id}: timed out waiting for ${what}; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): Promise<unknown> {
    return this.remote.call('unwatch', this.id);
  }
}

export class RemoteEtcd {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: any): void; reject(e: Error): void }>();
  private readonly watches = new Map<number, RemoteWatch>();
  private stderr = '';

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line);
      if (msg.watch !== undefined) this.watches.get(msg.watch)?.deliver(msg);
      else this.pending.get(msg.id)?.resolve(msg);
      this.pending.delete(msg.id);
    });
    child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`driver exited ${code}: ${this.stderr}`));
      this.pending.clear();
    });
  }

  /** The driver bundle started in `node` by `runtime` (node, or bun) with these --etcd-* flags and environment. */
  static start(
    h: Harness, driver: string, node: Netns, flags: Record<string, string>, env: Record<string, string> = {}, runtime = process.execPath,
  ): RemoteEtcd {
    return new RemoteEtcd(h.startDaemon(node, runtime, [driver, JSON.stringify(flags)], { env, stdin: true }));
  }

  /** The answer's value; throws with the driver's error message. */
  async call(op: string, ...args: unknown[]): Promise<any> {
    const msg = await this.attempt(op, ...args);
    if ('error' in msg) throw new Error(msg.error);
    return msg.value;
  }

  /** The raw answer: {value} or {error, name}. */
  attempt(op: string, ...args: unknown[]): Promise<{ value: any } | RemoteError> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${op}: no answer from the driver in 30 s: ${this.stderr}`)), 30_000);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  /** The driver's watch; its onEvents throws on the first `failFirst` deliveries. */
  async watch(prefix: string, startRevision?: number, failFirst = 0): Promise<RemoteWatch> {
    const w = new RemoteWatch(this.nextId++, this);
    this.watches.set(w.id, w);
    await this.call('watch', w.id, prefix, startRevision, failFirst);
    return w;
  }

  /** Ends the driver: its stdin closes, it closes its watches and connections and exits. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}
