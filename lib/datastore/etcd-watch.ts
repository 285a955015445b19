// A watch on a key prefix over the gateway's streaming /v3/watch, which
// outlives the connection it runs on: when the stream breaks (a member
// restarts, the network goes away), it reconnects, on any endpoint, from the
// revision after the last one it delivered, so no event is lost or repeated.
// Only compaction can break that promise (etcd has dropped the revisions the
// watch would need); then the caller hears it and must read the prefix anew.
// A connection can also die without a word (a member that vanished behind a
// partition sends no FIN, and TCP keepalive takes minutes to notice), so a
// stream that has been silent for idleReopenMs is reopened from the next
// revision: a dead one is then found within that time, a live one loses nothing.
// A message that cannot be read ends the stream the same way, and so does an
// onEvents that throws: the revision it was given is not passed, so the
// reopened stream hands the same events again.
import { decodeKv, prefixRangeEnd, type EtcdClient, type KeyValue } from './etcd';

export interface WatchEvent {
  type: 'put' | 'delete';
  /** for a delete: the key and the revision of the deletion only */
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface WatchHandlers {
  /** the events of one revision or more, in order; `revision` is the last of them */
  onEvents(events: WatchEvent[], revision: number): void;
  /** the revisions the watch needs are compacted away: read the prefix again and watch anew */
  onCompacted?(compactRevision: number): void;
  /** the stream is up (again) or down, with what broke it */
  onConnection?(up: boolean, reason?: string): void;
}

export interface WatchOptions {
  /** the first revision to deliver; default: what happens after the watch starts */
  startRevision?: number;
  /** reconnect delays grow from minBackoffMs to maxBackoffMs; defaults 200 and 5000 */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** a stream silent this long is reopened; default 60000 */
  idleReopenMs?: number;
}

export interface Watch {
  /** stops the watch; no handler runs after it */
  close(): void;
  /** settles once the watch has stopped: closed, or ended by compaction */
  stopped: Promise<void>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export function watchPrefix(client: EtcdClient, prefix: string, handlers: WatchHandlers, opts: WatchOptions = {}): Watch {
  let nextRevision = opts.startRevision ?? 0;
  let closed = false;
  let current: { close(): void } | undefined;
  let wake: (() => void) | undefined;
  const minBackoff = opts.minBackoffMs ?? 200;
  const maxBackoff = opts.maxBackoffMs ?? 5000;
  const idleReopenMs = opts.idleReopenMs ?? 60_000;

  const onMessage = (msg: any): 'compacted' | undefined => {
    const r = msg.result;
    if (msg.error || !r) throw new Error(`watch: ${msg.error?.message ?? JSON.stringify(msg).slice(0, 200)}`);
    if (r.canceled) {
      if (r.compact_revision !== undefined && Number(r.compact_revision) > 0) return 'compacted';
      throw new Error(`watch canceled: ${r.cancel_reason ?? 'by the server'}`);
    }
    // The first answer confirms the watch; without a start revision it tells where "now" is.
    if (r.created && nextRevision === 0) nextRevision = Number(r.header.revision) + 1;
    const events: WatchEvent[] = (r.events ?? []).map((e: any) => ({
      type: e.type === 'DELETE' ? 'delete' : 'put',
      kv: decodeKv(e.kv),
      ...(e.prev_kv ? { prevKv: decodeKv(e.prev_kv) } : {}),
    }));
    if (events.length > 0) {
      const revision = events[events.length - 1]!.kv.modRevision;
      handlers.onEvents(events, revision);
      nextRevision = revision + 1;
    }
    return undefined;
  };

  const run = async () => {
    let backoff = minBackoff;
    let up = false;
    while (!closed) {
      let compacted: number | undefined;
      let reason = 'stream ended';
      let idle = false;
      let idleTimer: ReturnType<typeof setTimeout> | undefined;
      const rearm = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          idle = true;
          current?.close();
        }, idleReopenMs);
      };
      try {
        const request = {
          create_request: {
            key: b64(prefix), range_end: prefixRangeEnd(prefix), prev_kv: true,
            ...(nextRevision > 0 ? { start_revision: String(nextRevision) } : {}),
          },
        };
        const stream = await client.transport.stream('/v3/watch', request, (msg) => {
          if (closed || compacted !== undefined) return;
          rearm();
          try {
            if (onMessage(msg) === 'compacted') {
              compacted = Number(msg.result.compact_revision);
              stream.close();
            }
          } catch (e) {
            reason = (e as Error).message;
            stream.close();
          }
        });
        current = stream;
        if (closed) stream.close();
        else if (!up) handlers.onConnection?.(true);
        up = true;
        backoff = minBackoff;
        rearm();
        const ended = await stream.done;
        if (reason === 'stream ended' && ended !== 'closed') reason = ended;
      } catch (e) {
        reason = (e as Error).message;
      }
      clearTimeout(idleTimer);
      current = undefined;
      if (closed) return;
      if (idle && compacted === undefined) continue; // reopen at once, from nextRevision
      if (compacted !== undefined) {
        closed = true;
        handlers.onCompacted?.(compacted);
        return;
      }
      up = false;
      handlers.onConnection?.(false, reason);
      await new Promise<void>((r) => {
        const t = setTimeout(r, backoff);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  };

  const stopped = run();
  return {
    close() {
      closed = true;
      current?.close();
      wake?.();
    },
    stopped,
  };
}
