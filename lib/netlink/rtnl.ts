// Rtnl: a handle on one network namespace's routing netlink. A netlink
// socket belongs for its whole life to the namespace it was created in, so
// the socket is created inside withNetns and every request afterwards (even
// from later ticks, outside the namespace) acts on that namespace.
import { withNetns, type NetnsHandle } from '../netns/netns';
import { Addresses } from './addrs';
import { RtnlChannel } from './channel';
import { Fdb, Neighbors } from './neigh';
import { Links } from './links';
import { Routes } from './routes';

export class Rtnl {
  readonly links: Links;
  readonly addrs: Addresses;
  readonly routes: Routes;
  readonly neighbors: Neighbors;
  readonly fdb: Fdb;

  private constructor(
    private readonly channel: RtnlChannel,
    /** the namespace given to open(); undefined for the caller's own */
    readonly netns: string | NetnsHandle | undefined,
  ) {
    this.links = new Links(channel);
    this.addrs = new Addresses(channel, this.links);
    this.routes = new Routes(channel, this.links);
    this.neighbors = new Neighbors(channel, this.links);
    this.fdb = new Fdb(channel, this.links);
  }

  /** Opens a socket in `netns` (a CNI_NETNS-style path or an open handle), or in the current namespace. */
  static open(netns?: string | NetnsHandle): Rtnl {
    const channel = netns === undefined ? new RtnlChannel() : withNetns(netns, () => new RtnlChannel());
    return new Rtnl(channel, netns);
  }

  /** open(), run `fn`, close — also when fn fails. */
  static async use<T>(netns: string | NetnsHandle | undefined, fn: (nl: Rtnl) => Promise<T>): Promise<T> {
    const nl = Rtnl.open(netns);
    try {
      return await fn(nl);
    } finally {
      nl.close();
    }
  }

  close(): void {
    this.channel.close();
  }
}
