// One rtnetlink socket and the request/answer plumbing every operation uses.
// Kernel refusals are checked here (not by the netlink package, whose errors
// carry only text) so that callers get the errno and a message naming the
// operation.
import { createRtNetlink, parseMessage, type Message, type MessageType, type RtNetlinkSocket } from './rt-package';
import { NetlinkError } from './errors';
import { requestChecked } from './request';

export class RtnlChannel {
  private closed = false;

  /** Creates the socket in the calling thread's current network namespace. */
  constructor(private readonly sock: RtNetlinkSocket = createRtNetlink()) {
    // The package unreferences the socket while no request is pending; saying
    // so explicitly keeps an idle handle from holding the process open.
    this.sock.socket.unref();
  }

  /**
   * Sends one request (REQUEST|ACK added) and returns the parsed answers;
   * rejects with NetlinkError("<operation>: <ERRNO>") on a kernel refusal.
   */
  async request(operation: string, type: number, flags: number, payload: Uint8Array[]): Promise<Message[]> {
    if (this.closed) throw new NetlinkError(operation, 0, 'netlink socket is closed');
    const answers = await requestChecked(this.sock.socket, operation, type, flags, payload);
    return answers.map((m) => parseMessage(m.type as MessageType, m.data));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }
}
