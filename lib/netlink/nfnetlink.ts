// nfnetlink, the netlink family of netfilter: nftables and conntrack. tscni
// writes its rulesets with `nft` (one JSON transaction per ADD); this channel
// covers what DEL and GC do many times a day — dump one set's elements,
// delete some of them in one transaction — without starting an `nft` process
// for each (two per DEL, ~18 ms apiece on the bench machine), and portmap's
// removal of stale conntrack entries. The socket lives in the namespace it
// was opened in, like Rtnl's.
import { NLM_F, NLMSG_ERROR } from './constants';
import { NetlinkError } from './errors';
import { NetlinkSocket, nlmsg } from './request';

const NETLINK_NETFILTER = 12;
/** nfnetlink subsystems: the high byte of a message type. */
export const NFNL_SUBSYS = { CTNETLINK: 1, NFTABLES: 10 } as const;
export type NfnlSubsystem = (typeof NFNL_SUBSYS)[keyof typeof NFNL_SUBSYS];
const NFNL_MSG_BATCH_BEGIN = 16;
const NFNL_MSG_BATCH_END = 17;
const NFGENMSG_LEN = 4;

/** nf_tables message types (linux/netfilter/nf_tables.h), without the subsystem byte. */
export const NFT_MSG = { GETRULE: 7, NEWSETELEM: 12, GETSETELEM: 13, DELSETELEM: 14, GETGEN: 16 } as const;

/** nfgen_family values: nftables' table families; conntrack uses ip and ip6 (unspec: both, in one dump). */
export const NFPROTO = { unspec: 0, inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 } as const;
export type NfFamily = keyof typeof NFPROTO;

/** One nf_tables message of a transaction: its type, its table's family, its attributes. */
export interface NftMessage {
  type: number;
  family: NfFamily;
  attrs: Uint8Array[];
  /** nlmsghdr flags beyond REQUEST|ACK, e.g. CREATE|EXCL for an element that must not exist yet */
  flags?: number;
}

function nfgenmsg(family: number, resId = 0): Buffer {
  const b = Buffer.alloc(NFGENMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt16BE(resId, 2);
  return b;
}

const messageType = (subsys: NfnlSubsystem, msg: number): number => (subsys << 8) | msg;

export class NfnlChannel {
  private constructor(private readonly sock: NetlinkSocket) {}

  /** A socket in the calling thread's current network namespace (the node's, for a plugin). */
  static open(): NfnlChannel {
    return new NfnlChannel(new NetlinkSocket(NETLINK_NETFILTER));
  }

  /** open(), run `fn`, close — also when fn fails. */
  static async use<T>(fn: (ch: NfnlChannel) => Promise<T>): Promise<T> {
    const ch = NfnlChannel.open();
    try {
      return await fn(ch);
    } finally {
      ch.close();
    }
  }

  /**
   * Like use(), but the socket is opened by the first call of `channel`, so
   * that a failure to open it fails that step alone (DEL collects its steps'
   * errors), and a command that needs none opens none.
   */
  static async useOnDemand<T>(fn: (channel: () => NfnlChannel) => Promise<T>): Promise<T> {
    let ch: NfnlChannel | undefined;
    try {
      return await fn(() => (ch ??= NfnlChannel.open()));
    } finally {
      ch?.close();
    }
  }

  /**
   * A dump request; resolves with each answer's attributes (after nfgenmsg).
   * Rejects with NetlinkError("<operation>: ENOENT") when e.g. the table or set is missing.
   */
  async dump(operation: string, subsys: NfnlSubsystem, msg: number, family: NfFamily, attrs: Uint8Array[]): Promise<Buffer[]> {
    const answers = this.sock.request(operation, messageType(subsys, msg), NLM_F.DUMP, [nfgenmsg(NFPROTO[family]), ...attrs]);
    return answers.map((m) => m.data.subarray(NFGENMSG_LEN));
  }

  /** One message outside any transaction (conntrack has none), acknowledged by the kernel. */
  async send(operation: string, subsys: NfnlSubsystem, msg: number, family: NfFamily, attrs: Uint8Array[]): Promise<void> {
    this.sock.request(operation, messageType(subsys, msg), 0, [nfgenmsg(NFPROTO[family]), ...attrs]);
  }

  /**
   * Applies `messages` as one nf_tables transaction (all or nothing), as nft
   * does: BATCH_BEGIN, the messages, BATCH_END in one datagram. The kernel
   * answers every message while the datagram is being sent; a GETGEN request
   * after it is answered last, so once that answer is in, every verdict on
   * the batch is too. Rejects with the first refusal's errno.
   */
  async transaction(operation: string, messages: NftMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const seqs = new Set<number>();
    const seq = (): number => {
      const s = this.sock.nextSeq();
      seqs.add(s);
      return s;
    };
    const batch = [
      nlmsg(NFNL_MSG_BATCH_BEGIN, NLM_F.REQUEST, seq(), [nfgenmsg(0, NFNL_SUBSYS.NFTABLES)]),
      ...messages.map((m) => nlmsg(messageType(NFNL_SUBSYS.NFTABLES, m.type), NLM_F.REQUEST | NLM_F.ACK | (m.flags ?? 0), seq(), [nfgenmsg(NFPROTO[m.family]), ...m.attrs])),
      nlmsg(NFNL_MSG_BATCH_END, NLM_F.REQUEST, seq(), [nfgenmsg(0, NFNL_SUBSYS.NFTABLES)]),
    ];
    this.sock.send(operation, Buffer.concat(batch));
    let refusal = 0;
    const getgen = this.sock.nextSeq();
    this.sock.send(operation, nlmsg(messageType(NFNL_SUBSYS.NFTABLES, NFT_MSG.GETGEN), NLM_F.REQUEST | NLM_F.ACK, getgen, [nfgenmsg(0)]));
    this.sock.receiveUntilDone(`${operation} (waiting for the kernel's answers)`, getgen, (a) => {
      if (a.type !== NLMSG_ERROR || !seqs.has(a.seq) || a.data.length < 4) return;
      const errno = -a.data.readInt32LE(0);
      if (errno !== 0 && refusal === 0) refusal = errno;
    });
    if (refusal !== 0) throw new NetlinkError(operation, refusal);
  }

  close(): void {
    this.sock.close();
  }
}
