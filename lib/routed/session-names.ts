// The names of BIRD's BGP protocols: the agent gives each session one by its
// kind, and `tscni node status` reads the kind back from the name.

export type SessionKind = 'mesh' | 'reflector' | 'client' | 'external';

/** BIRD protocol names per session kind; `tscni node status` reads the kind back from the name. */
export const SESSION_PREFIX: Record<SessionKind, string> = { mesh: 'mesh_', reflector: 'rr_', client: 'rrclient_', external: 'ext_' };

export function sessionName(s: { kind: SessionKind; ip: string }): string {
  return `${SESSION_PREFIX[s.kind]}${s.ip.replace(/[.:]/g, '_')}`;
}

export function kindOfProtocol(name: string): SessionKind | undefined {
  return (Object.keys(SESSION_PREFIX) as SessionKind[]).find((k) => name.startsWith(SESSION_PREFIX[k]));
}
