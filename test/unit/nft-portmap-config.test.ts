import { describe, expect, it } from 'vitest';
import { parsePortmapConfig } from '../../plugins/portmap/config';
import { containerAddresses, routeInterface } from '../../plugins/portmap/portmap';

const conf = (over: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'pmnet', type: 'portmap', ...over });
const codeOf = (fn: () => unknown): { code: number; msg: string } => {
  try {
    fn();
  } catch (e) {
    return e as { code: number; msg: string };
  }
  throw new Error('did not throw');
};

describe('portmap config', () => {
  it('defaults as the reference: snat on, masqAll off, no mappings', () => {
    expect(parsePortmapConfig(conf())).toEqual({ network: 'pmnet', snat: true, masqAll: false, mappings: [] });
    expect(parsePortmapConfig(conf({ snat: null, markMasqBit: 13, backend: 'nftables' })).snat).toBe(true);
  });

  it('reads runtimeConfig.portMappings as a runtime sends them', () => {
    const c = parsePortmapConfig(conf({ runtimeConfig: { portMappings: [
      { hostPort: 8080, containerPort: 80, protocol: 'TCP' },
      { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '10.250.0.1' },
      { hostPort: 9, containerPort: 9, hostIP: '' },
    ] } }));
    expect(c.mappings).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '10.250.0.1' },
      { hostPort: 9, containerPort: 9, protocol: 'tcp' },
    ]);
  });

  it('names the bad field of a mapping', () => {
    const bad = (m: object) => codeOf(() => parsePortmapConfig(conf({ runtimeConfig: { portMappings: [m] } })));
    expect(bad({ hostPort: 0, containerPort: 80 })).toMatchObject({ code: 7, msg: 'runtimeConfig.portMappings[0].hostPort: must be >= 1' });
    expect(bad({ hostPort: 80, containerPort: 70000 }).msg).toMatch(/^runtimeConfig.portMappings\[0\].containerPort: /);
    expect(bad({ hostPort: 80, containerPort: 80, protocol: 'icmp' }).msg).toBe('runtimeConfig.portMappings[0].protocol: must be one of "tcp", "udp", "sctp"');
    expect(bad({ hostPort: 80, containerPort: 80, hostIP: 'node1' }).msg).toBe('runtimeConfig.portMappings[0].hostIP: must be an IP address or empty');
  });

  it('refuses what the nftables backend cannot honour, as the reference does, by field', () => {
    expect(codeOf(() => parsePortmapConfig(conf({ externalSetMarkChain: 'X' }))).msg).toMatch(/^externalSetMarkChain: /);
    expect(codeOf(() => parsePortmapConfig(conf({ externalSetMarkChain: 'X', markMasqBit: 3 }))).msg).toMatch(/together with markMasqBit/);
    expect(codeOf(() => parsePortmapConfig(conf({ markMasqBit: 32 }))).msg).toMatch(/^markMasqBit: /);
    expect(codeOf(() => parsePortmapConfig(conf({ conditionsV4: ['-s', '1.2.3.4'] })))).toMatchObject({ code: 7 });
    expect(codeOf(() => parsePortmapConfig(conf({ conditionsV6: ['ip6 saddr fd00::/8'] })))).toMatchObject({ code: 2 });
    expect(codeOf(() => parsePortmapConfig(conf({ backend: 'iptables' })))).toMatchObject({ code: 2 });
    expect(parsePortmapConfig(conf({ conditionsV4: [''], conditionsV6: [] })).snat).toBe(true);
  });
});

describe('portmap inputs', () => {
  it('maps the sandbox interface addresses only, the first of each family', () => {
    const prev = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/run/netns/p' }],
      ips: [
        { address: '10.244.1.1/24', interface: 0 },
        { address: '10.244.1.5/24', interface: 2 },
        { address: '10.244.1.6/24', interface: 2 },
        { address: 'fd00:244:1::5/64' },
      ],
    };
    expect(containerAddresses(prev, 'eth0')).toEqual(['10.244.1.5', 'fd00:244:1::5']);
    expect(containerAddresses(prev, 'eth1')).toEqual(['fd00:244:1::5']);
    expect(containerAddresses({ cniVersion: '1.1.0' }, 'eth0')).toEqual([]);
  });

  it('finds the interface towards a pod in /proc/net/route', () => {
    const table = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'ext0\t00000000\t016433C6\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'cni0\t0001F40A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'down0\t0501F40A\t00000000\t0000\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
    ].join('\n');
    expect(routeInterface('10.244.1.5', table)).toBe('cni0');
    expect(routeInterface('10.9.9.9', table)).toBe('ext0');
  });
});
