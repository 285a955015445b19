// A tiny IPAM plugin for the delegation tests: hands out the address given in
// its config and remembers nothing. It runs both in-process (registered) and as
// an executable (this file bundled by esbuild; `runPlugin` when CNI_FAKE_MAIN=1),
// so the tests can show that both paths give the same answer.

import * as z from 'zod/mini';
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { parseOrThrow } from '../../lib/cni/schemas';
import { runPlugin, type Plugin } from '../../lib/cni/skel';

const configSchema = z.looseObject({
  ipam: z.object({ type: z.string(), address: z.string(), gateway: z.optional(z.string()), fail: z.optional(z.boolean()) }),
});
type FakeConfig = z.infer<typeof configSchema>;

export const fakeIpam: Plugin<FakeConfig> = {
  name: 'fake-ipam',
  knownArgs: ['K8S_POD_NAME'],
  parseConfig: (raw) => parseOrThrow(configSchema, raw),
  async add(a) {
    if (a.config.ipam.fail) throw new CniError(ErrorCode.IpamExhausted, 'no IP addresses available in range set', a.config.ipam.address);
    return {
      cniVersion: '1.1.0',
      ips: [{ address: a.config.ipam.address, ...(a.config.ipam.gateway ? { gateway: a.config.ipam.gateway } : {}) }],
      routes: [{ dst: '0.0.0.0/0', gw: a.config.ipam.gateway, mtu: 1400 }],
      dns: { nameservers: [a.args.K8S_POD_NAME ?? 'none'] },
    };
  },
  async del() {},
  async check(a) {
    if (a.containerId === 'unknown') throw new CniError(ErrorCode.UnknownContainer, 'no reservation for container', a.containerId);
  },
};

if (process.env.CNI_FAKE_MAIN === '1') runPlugin(fakeIpam);
