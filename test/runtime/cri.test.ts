// The kubelet's own path: containerd's CRI plugin (Debian's containerd 1.6,
// runtime.v1) runs conf-examples/10-bridge.conflist with our plugins only, in a
// virtual node, driven by a client that makes the kubelet's calls. The pod has
// a host port, so go-cni hands portmap its portMappings capability in Go's
// field names ({"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":""});
// containerd runs DEL at StopPodSandbox, and again when an ADD fails.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poll } from '../../lib/lab/poll';
import { createHarness, type External } from '../integration/harness';
import { importBusyboxImage } from './busybox-image';
import { CONTAINERD_SOCKET, containerdConfig, startContainerd } from './containerd';
import { CriClient, type PodSandboxConfig } from './cri-client';
import { cniState, expectNoPodState, foreignPlugins, GATEWAY, SUBNET_PREFIX, traceOf } from './cni-state';
import { BRIDGE_CONFLIST, installTree } from './install';
import { RuntimeNode } from './node';

const h = createHarness();
const CGROUP_PARENT = `/${h.prefix}cri`;
const IMAGE = 'localhost/tscni-busybox:1';
/** the node's /var/lib is an overlay, which overlayfs cannot take as its upper dir */
const SNAPSHOTTER = 'native';
const HOST_PORT = 8080;
const POD_PORT = 80;

// disable_apparmor: Debian enables AppArmor, and the plugin would load a profile into the machine's kernel.
// restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so runc cannot lower the
// pause process's oom_score_adj to -998; the plugin then keeps containerd's own.
const CRI_PLUGIN = `[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${IMAGE}"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "${SNAPSHOTTER}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
`;

const POD: PodSandboxConfig = {
  metadata: { name: 'web', namespace: 'default', uid: randomUUID(), attempt: 0 },
  hostname: 'web',
  portMappings: [{ protocol: 'TCP', containerPort: POD_PORT, hostPort: HOST_PORT }],
  labels: { app: 'web' },
  linux: { cgroupParent: CGROUP_PARENT, securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
};

let node: RuntimeNode;
let ext: External;
let cri: CriClient | undefined;

/** The sandbox's netns path, from containerd's verbose status (the OCI spec of its pause container). */
async function sandboxNetns(id: string): Promise<string> {
  const { info } = await cri!.podSandboxStatus(id, true);
  const spec = JSON.parse(info.info ?? '{}').runtimeSpec as { linux?: { namespaces?: { type: string; path?: string }[] } } | undefined;
  const path = spec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  if (!path) throw new Error(`no network namespace in the sandbox's status: ${info.info}`);
  return path;
}

/** Runs in the sandbox's netns, inside the node. */
const inSandbox = (netns: string, argv: string[]) => node.exec('nsenter', [`--net=${netns}`, '--', ...argv], { reject: false });

describe('containerd CRI plugin (the kubelet path) with our plugins', () => {
  let sandboxId: string;
  let podIp: string;

  beforeAll(async () => {
    node = await RuntimeNode.start(h, await installTree(await h.tempDir('install')), [CGROUP_PARENT]);
    ext = await h.createExternal(node.netns);
    await node.writeFile('/etc/cni/net.d/10-bridge.conflist', await readFile(BRIDGE_CONFLIST, 'utf8'));
    expect(await foreignPlugins(node)).toEqual([]);
    await startContainerd(node, containerdConfig({ plugins: CRI_PLUGIN }));
    await importBusyboxImage(h, node, { name: IMAGE, namespace: 'k8s.io', snapshotter: SNAPSHOTTER });
    cri = new CriClient(node.hostPath(CONTAINERD_SOCKET));
  });

  afterAll(async () => {
    try {
      // A DEL that fails keeps StopPodSandbox failing; node.stop() then kills what is left.
      for (const pod of (await cri?.listPodSandbox().catch(() => [])) ?? []) {
        await cri?.stopPodSandbox(pod.id).catch(() => undefined);
        await cri?.removePodSandbox(pod.id).catch(() => undefined);
      }
    } finally {
      cri?.close();
      await node?.stop();
      await h.cleanup();
    }
  });

  it('speaks runtime.v1 and reports NetworkReady once it has loaded our conflist', async () => {
    const version = await cri!.version();
    expect(version.runtimeName).toBe('containerd');
    expect(version.runtimeApiVersion).toBe('v1');

    const conditions = await poll('RuntimeReady and NetworkReady', async () => {
      const c = await cri!.status();
      return c.every((x) => x.status) && c.length >= 2 ? c : undefined;
    }, 30_000, { everyMs: 200 });
    expect(conditions.map((c) => c.type).sort()).toEqual(['NetworkReady', 'RuntimeReady']);
    expect(await cri!.imageId(IMAGE)).toMatch(/^sha256:/);
  });

  it('runs a pod with a host port: the IP it reports is the one on the pod\'s eth0, on our bridge', async () => {
    sandboxId = await cri!.runPodSandbox(POD);
    const { status } = await cri!.podSandboxStatus(sandboxId);
    expect(status.state).toBe('SANDBOX_READY');
    expect(status.metadata).toMatchObject({ name: 'web', namespace: 'default', uid: POD.metadata.uid });
    podIp = status.network?.ip ?? '';
    expect(podIp.startsWith(SUBNET_PREFIX) && podIp !== GATEWAY, podIp).toBe(true);

    const netns = await sandboxNetns(sandboxId);
    const addr = await inSandbox(netns, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    expect(addr.stdout).toContain(`inet ${podIp}/24`);

    // The runtime's container id for CNI is the sandbox id.
    const trace = traceOf(await cniState(node), sandboxId);
    expect(trace.reservations).toEqual([podIp]);
    expect(trace.cache).toHaveLength(1);
    // masquerade, and the host port's DNAT and hairpin
    expect(trace.nftElements.length).toBeGreaterThan(2);
  });

  it('reaches a container of the pod through the host port from outside the node', async () => {
    await cri!.startContainer(sandboxId, {
      metadata: { name: 'server', attempt: 0 },
      image: { image: IMAGE },
      command: ['/bin/nc'],
      args: ['-ll', '-p', String(POD_PORT), '-e', '/bin/echo', 'hello-from-web'],
    }, POD);
    const reply = await poll(`an answer through ${ext.nodeIp}:${HOST_PORT}`, async () => {
      const r = await h.execIn(ext, 'busybox', ['nc', '-w', '2', ext.nodeIp, String(HOST_PORT)], { reject: false });
      return r.stdout.includes('hello-from-web') ? r.stdout : undefined;
    }, 20_000, { everyMs: 200 });
    expect(reply.trim()).toBe('hello-from-web');
  });

  it('leaves no veth, reservation, nft element, cache entry or netns once the pod is stopped and removed', async () => {
    // As the kubelet ends a pod: every sandbox the runtime lists for it is stopped
    // and removed, a NOTREADY one a failed RunPodSandbox kept included.
    for (const pod of await cri!.listPodSandbox()) {
      const netns = await sandboxNetns(pod.id).catch(() => undefined);
      const stopError = await cri!.stopPodSandbox(pod.id).then(() => undefined, (e: Error) => e.message);
      // soft: on a failed DEL, what it left behind is the more telling failure
      expect.soft(stopError, `StopPodSandbox ${pod.id}`).toBeUndefined();
      if (stopError !== undefined) continue;
      await cri!.removePodSandbox(pod.id);
      if (netns !== undefined) expect((await node.exec('test', ['-e', netns], { reject: false })).exitCode, `${netns} still there`).not.toBe(0);
    }
    expect.soft(await cri!.listPodSandbox()).toEqual([]);
    await expectNoPodState(node);
  });
});
