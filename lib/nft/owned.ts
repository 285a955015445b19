// Removing tscni's elements by owner — the one DEL and GC path of every
// ruleset (masquerade, host ports, MAC spoof check): read the sets' elements
// and delete, in one transaction, exactly those the selector picks. Both go
// over nfnetlink rather than through `nft`: DEL runs once per pod and plugin,
// and two nft processes were most of its cost. An element that vanished
// between listing and deleting (a concurrent DEL of the same attachment) makes
// the kernel refuse the whole transaction; the listing is then taken again,
// so DEL converges.
import { isNotFound } from '../netlink/errors';
import { NfnlChannel } from '../netlink/nfnetlink';
import { deleteSetElements, listSetElements } from './elements';
import type { TableRef } from './json';
import { ownedBy, staleIn, type PodAttachment } from './owner';

/** Picks elements by their owner comment. */
export type ElementSelector = (e: { comment?: string }) => boolean;

const ATTEMPTS = 3;

function removeSelected(t: TableRef, sets: readonly string[], selected: ElementSelector, channel?: NfnlChannel): Promise<void> {
  const remove = async (ch: NfnlChannel): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const doomed = [];
      for (const set of sets) doomed.push(...(await listSetElements(ch, t, set)).filter(selected));
      try {
        await deleteSetElements(ch, t, doomed);
        return;
      } catch (e) {
        if (!isNotFound(e) || attempt === ATTEMPTS) throw e;
      }
    }
  };
  return channel ? remove(channel) : NfnlChannel.use(remove);
}

/**
 * DEL: this attachment's elements only; a missing table or element is success.
 * Closing the socket right after the transaction would wait for the kernel's
 * cleanup of it (applyRuleset says more): a DEL with steps left passes its
 * own channel and closes it at its end.
 */
export function removeOwnedElements(t: TableRef, sets: readonly string[], a: PodAttachment, channel?: NfnlChannel): Promise<void> {
  return removeSelected(t, sets, ownedBy(a), channel);
}

/** GC: elements of `network` whose attachment is not among `valid`. */
export function removeStaleElements(t: TableRef, sets: readonly string[], network: string, valid: { containerId: string; ifname: string }[]): Promise<void> {
  return removeSelected(t, sets, staleIn(network, valid));
}
