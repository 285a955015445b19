// A netlink socket that asks and then waits: the request goes out, and the
// answers are read on the same thread until the kernel says it is done, with
// no event loop in between (the native addon's blocking socket). A plugin has
// nothing else to do meanwhile, the socket is made in whatever namespace
// withNetns entered, and it runs the same under every JavaScript runtime.
// Shared by the routing and the netfilter channels; the netlink package
// encodes and parses what travels over it.
import { native } from '../native';
import { NLM_F, NLMSG_ERROR } from './constants';
import { NetlinkError } from './errors';

export const NLMSG_DONE = 3;
const NLMSG_HDRLEN = 16;
/** Room for the acknowledgements of a large nf_tables batch, which arrive while it is being sent. */
const RECEIVE_BUFFER_BYTES = 4 << 20;
/** The kernel answers in microseconds; a missing answer is an error, not a hang. */
const RECEIVE_TIMEOUT_MS = 10_000;

/** One message of an answer: its header fields and its payload after the header. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  data: Buffer;
}

/** struct nlmsghdr + payload; port 0 lets the kernel fill in ours. */
export function nlmsg(type: number, flags: number, seq: number, payload: Uint8Array[]): Buffer {
  const body = Buffer.concat(payload);
  const hdr = Buffer.alloc(NLMSG_HDRLEN);
  hdr.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  hdr.writeUInt16LE(type, 4);
  hdr.writeUInt16LE(flags, 6);
  hdr.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([hdr, body]);
}

/** The messages of one datagram (each padded to 4 bytes, as the kernel writes them). */
export function splitDatagram(datagram: Buffer): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let at = 0;
  while (at + NLMSG_HDRLEN <= datagram.length) {
    const len = datagram.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > datagram.length) throw new NetlinkError('netlink receive', 0, `malformed message of length ${len}`);
    messages.push({
      type: datagram.readUInt16LE(at + 4),
      flags: datagram.readUInt16LE(at + 6),
      seq: datagram.readUInt32LE(at + 8),
      data: datagram.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += (len + 3) & ~3;
  }
  return messages;
}

/** The errno an NLMSG_ERROR (0 for an acknowledgement) or an NLMSG_DONE (0 for a clean end) carries. */
const errnoOf = (m: NetlinkMessage): number => (m.data.length >= 4 ? -m.data.readInt32LE(0) : 0);

export class NetlinkSocket {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private closed = false;

  /** A socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER, ...) in the calling thread's network namespace. */
  constructor(protocol: number) {
    try {
      this.fd = native().netlinkOpen(protocol, RECEIVE_BUFFER_BYTES, RECEIVE_TIMEOUT_MS);
    } catch (e) {
      throw asNetlinkError('open netlink socket', e);
    }
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  /** Sends one datagram (one message or a whole batch). */
  send(operation: string, datagram: Buffer): void {
    this.assertOpen(operation);
    try {
      native().netlinkSend(this.fd, datagram);
    } catch (e) {
      throw asNetlinkError(operation, e);
    }
  }

  /**
   * Reads answers until the one that ends request `seq`: its acknowledgement
   * or refusal (NLMSG_ERROR), or NLMSG_DONE after a dump's parts. Answers
   * with another sequence number (left over from a request that failed) are
   * handed to `other`, or dropped. Resolves with the answers that are neither.
   */
  receiveUntilDone(operation: string, seq: number, other?: (m: NetlinkMessage) => void): NetlinkMessage[] {
    const answers: NetlinkMessage[] = [];
    for (;;) {
      let datagram: Buffer;
      try {
        datagram = native().netlinkReceive(this.fd);
      } catch (e) {
        throw asNetlinkError(operation, e);
      }
      for (const m of splitDatagram(datagram)) {
        if (m.seq !== seq) {
          other?.(m);
          continue;
        }
        if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
          const errno = errnoOf(m);
          if (errno !== 0) throw new NetlinkError(operation, errno);
          return answers;
        }
        answers.push(m);
      }
    }
  }

  /** Sends one request (REQUEST|ACK added) and returns its answers, or throws NetlinkError("<operation>: <ERRNO>"). */
  request(operation: string, type: number, flags: number, payload: Uint8Array[]): NetlinkMessage[] {
    const seq = this.nextSeq();
    this.send(operation, nlmsg(type, flags | NLM_F.REQUEST | NLM_F.ACK, seq, payload));
    return this.receiveUntilDone(operation, seq);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().close(this.fd);
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new NetlinkError(operation, 0, 'netlink socket is closed');
  }
}

function asNetlinkError(operation: string, e: unknown): NetlinkError {
  const errno = (e as { errno?: unknown }).errno;
  if (typeof errno === 'number' && errno !== 0) return new NetlinkError(operation, Math.abs(errno));
  return new NetlinkError(operation, 0, (e as Error).message);
}
