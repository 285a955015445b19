// Removing tscni's elements by owner — the one DEL and GC path of every
// ruleset (masquerade, host ports, MAC spoof check): list the table once,
// then delete in one transaction exactly the elements the selector picks.
// Each deletion tolerates the element being gone already, so DEL converges.
import { deleteElementsIfPresent, type NftCommand, type TableRef } from './json';
import { isOwnedBy, staleIn, type PodAttachment } from './owner';
import { applyCommands, elementsOf, listTable, type ListedElement, type NftListing } from './run';

export type ElementSelector = (e: ListedElement) => boolean;

/** Commands deleting the listed elements of `sets` that `selected` picks. */
export function deleteSelectedCommands(t: TableRef, listing: NftListing, sets: readonly string[], selected: ElementSelector): NftCommand[] {
  return sets.flatMap((set) =>
    elementsOf(listing, set)
      .filter(selected)
      .flatMap((e) => deleteElementsIfPresent(t, set, [e.data === undefined ? e.key : [e.key, e.data]])),
  );
}

async function removeSelected(t: TableRef, sets: readonly string[], selected: ElementSelector): Promise<void> {
  const listing = await listTable(t);
  if (listing) await applyCommands(deleteSelectedCommands(t, listing, sets, selected));
}

/** DEL: this attachment's elements only; a missing table or element is success. */
export function removeOwnedElements(t: TableRef, sets: readonly string[], a: PodAttachment): Promise<void> {
  return removeSelected(t, sets, (e) => isOwnedBy(e, a));
}

/** GC: elements of `network` whose attachment is not among `valid`. */
export function removeStaleElements(t: TableRef, sets: readonly string[], network: string, valid: { containerId: string; ifname: string }[]): Promise<void> {
  return removeSelected(t, sets, staleIn(network, valid));
}
