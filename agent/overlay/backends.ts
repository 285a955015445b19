// The backends by the name flannel's config gives them (Backend.Type). Kept
// apart from backend.ts, which every backend imports, so that the interface
// does not depend on its implementations.
import type { Backend, BackendContext } from './backend';

/** Each backend's folder, loaded only when the config names it. */
export async function createBackend(ctx: BackendContext): Promise<Backend> {
  switch (ctx.config.Backend.Type) {
    case 'vxlan':
      return new (await import('./vxlan/vxlan')).VxlanBackend(ctx);
    case 'host-gw':
      return new (await import('./host-gw/host-gw')).HostGwBackend(ctx);
    case 'udp':
      return new (await import('./udp/udp')).UdpBackend(ctx);
  }
}
