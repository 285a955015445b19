// Owner comments for set and map elements: every element tscni writes names
// the attachment it belongs to, so DEL and GC remove exactly that attachment's
// elements even when a key (a reused pod address, a host port) passed from a
// stale owner to a new one.
import { sha256Hex } from '../hash';

export interface PodAttachment {
  network: string;
  containerId: string;
  ifname: string;
}

// nft's limit for comments (NFT_USERDATA_MAXLEN 256 less its TLV header), kept well inside.
const COMMENT_MAX = 127;

function hash(text: string): string {
  return sha256Hex(text).slice(0, 16);
}

/** The prefix shared by every element of one network. */
export function networkTag(network: string): string {
  return `tscni/${hash(network)}/`;
}

/** The exact owner tag; comparisons use only this part, the rest is for people. */
export function ownerTag(a: PodAttachment): string {
  return `${networkTag(a.network)}${hash(`${a.ifname}\0${a.containerId}`)}`;
}

export function ownerComment(a: PodAttachment): string {
  const readable = ` net=${a.network} if=${a.ifname} id=${a.containerId}`.replace(/[^\x20-\x7e]|"/g, '_');
  return `${ownerTag(a)}${readable}`.slice(0, COMMENT_MAX);
}

/** DEL's selector: the attachment's elements. The tag is hashed once, not per element. */
export function ownedBy(a: PodAttachment): (e: { comment?: string }) => boolean {
  const prefix = `${ownerTag(a)} `;
  return (e) => e.comment?.startsWith(prefix) ?? false;
}

export function isOwnedBy(e: { comment?: string }, a: PodAttachment): boolean {
  return ownedBy(a)(e);
}

/** GC's selector: elements of `network` whose attachment is not among `valid`. */
export function staleIn(network: string, valid: { containerId: string; ifname: string }[]): (e: { comment?: string }) => boolean {
  const keep = new Set(valid.map((v) => ownerTag({ network, ...v })));
  const tag = networkTag(network);
  return (e) => (e.comment?.startsWith(tag) ?? false) && !keep.has(e.comment!.split(' ')[0]!);
}

/** The readable part of a comment, for error messages naming another owner. */
export function describeOwner(comment: string | undefined): string {
  if (!comment) return 'an element without owner';
  const readable = comment.slice(comment.indexOf(' ') + 1);
  return readable === comment ? `"${comment}"` : readable;
}
