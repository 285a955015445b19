// One request on a socket of the netlink package, answered or refused. The
// package's own errors carry only text; here a refusal becomes a NetlinkError
// with the kernel's errno and the operation that was attempted. Shared by the
// routing and the netfilter channels.
import type { NetlinkSocket } from 'netlink/dist/netlink';
import type { NetlinkMessage } from 'netlink/dist/structs';
import { NLMSG_ERROR } from './constants';
import { NetlinkError } from './errors';

/** Sends one request (REQUEST|ACK added); resolves with the answers that are not acknowledgements. */
export async function requestChecked(
  sock: NetlinkSocket, operation: string, type: number, flags: number, payload: Uint8Array[],
): Promise<NetlinkMessage[]> {
  let answers: NetlinkMessage[];
  try {
    [answers] = await sock.request(type, payload, { flags, checkError: false });
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    throw new NetlinkError(operation, typeof errno === 'number' ? Math.abs(errno) : 0, errno ? undefined : (e as Error).message);
  }
  for (const m of answers) {
    if (m.type !== NLMSG_ERROR) continue;
    const errno = -m.data.readInt32LE(0);
    if (errno !== 0) throw new NetlinkError(operation, errno);
  }
  return answers.filter((m) => m.type !== NLMSG_ERROR);
}
