// One rtnetlink socket and the request/answer plumbing every operation uses.
// Kernel refusals are checked here so that callers get the errno and a
// message naming the operation; the netlink package parses the answers.
import { parseMessage, type Message, type MessageType } from './rt-package';
import { NetlinkSocket } from './request';

const NETLINK_ROUTE = 0;

export class RtnlChannel {
  private readonly sock: NetlinkSocket;

  /** Creates the socket in the calling thread's current network namespace. */
  constructor() {
    this.sock = new NetlinkSocket(NETLINK_ROUTE);
  }

  /**
   * Sends one request (REQUEST|ACK added) and returns the parsed answers;
   * rejects with NetlinkError("<operation>: <ERRNO>") on a kernel refusal.
   */
  async request(operation: string, type: number, flags: number, payload: Uint8Array[]): Promise<Message[]> {
    const answers = this.sock.request(operation, type, flags, payload);
    return answers.map((m) => parseMessage(m.type as MessageType, m.data));
  }

  close(): void {
    this.sock.close();
  }
}
