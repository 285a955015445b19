// A kubelet-shaped client: the CRI calls (runtime.v1, cri.proto beside this
// file) the kubelet makes to start a pod, put a container in it, stop and
// remove it, over the runtime's unix socket. Field names are proto-loader's
// camelCase forms of the proto's; enums travel as their names.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = join(import.meta.dirname, 'cri.proto');
/** one call's bound: a RunPodSandbox runs the CNI ADD, which waits on a loaded 2-core machine */
const CALL_DEADLINE_MS = 60_000;

export interface PodSandboxMetadata { name: string; uid: string; namespace: string; attempt?: number }
export interface PortMapping { protocol: 'TCP' | 'UDP' | 'SCTP'; containerPort: number; hostPort: number; hostIp?: string }
export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  portMappings?: PortMapping[];
  labels?: Record<string, string>;
  linux?: { cgroupParent?: string; securityContext?: { namespaceOptions?: { network?: 'POD' | 'NODE'; pid?: 'POD' | 'CONTAINER' | 'NODE'; ipc?: 'POD' | 'NODE' } } };
}
export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
}
export interface VersionResponse { version: string; runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }
export interface RuntimeCondition { type: string; status: boolean; reason: string; message: string }
export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  network: { ip: string; additionalIps: { ip: string }[] } | null;
}
export interface PodSandbox { id: string; metadata: PodSandboxMetadata; state: PodSandboxStatus['state'] }

type Callback = (err: grpc.ServiceError | null, res: unknown) => void;
type Stub = grpc.Client & Record<string, (req: unknown, opts: grpc.CallOptions, cb: Callback) => void>;
type StubConstructor = new (address: string, credentials: grpc.ChannelCredentials) => Stub;

function loadServices(): { RuntimeService: StubConstructor; ImageService: StubConstructor } {
  const definition = protoLoader.loadSync(PROTO, { keepCase: false, longs: String, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { runtime: { v1: Record<string, StubConstructor> } };
  const { RuntimeService, ImageService } = loaded.runtime.v1;
  if (RuntimeService === undefined || ImageService === undefined) throw new Error(`${PROTO} lacks a service`);
  return { RuntimeService, ImageService };
}

export class CriClient {
  private readonly runtime: Stub;
  private readonly images: Stub;

  /** `socketPath`: the runtime's socket as this process sees it */
  constructor(socketPath: string) {
    const { RuntimeService, ImageService } = loadServices();
    const address = `unix://${socketPath}`;
    this.runtime = new RuntimeService(address, grpc.credentials.createInsecure());
    this.images = new ImageService(address, grpc.credentials.createInsecure());
  }

  close(): void {
    this.runtime.close();
    this.images.close();
  }

  version(): Promise<VersionResponse> {
    return call(this.runtime, 'Version', { version: 'v1' });
  }

  /** The runtime's conditions (RuntimeReady, NetworkReady), as the kubelet polls them. */
  async status(): Promise<RuntimeCondition[]> {
    const res = await call<{ status: { conditions: RuntimeCondition[] } | null }>(this.runtime, 'Status', {});
    return res.status?.conditions ?? [];
  }

  /** The image's id, or undefined when the runtime does not have it. */
  async imageId(image: string): Promise<string | undefined> {
    const res = await call<{ image: { id: string } | null }>(this.images, 'ImageStatus', { image: { image } });
    return res.image?.id || undefined;
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    return (await call<{ podSandboxId: string }>(this.runtime, 'RunPodSandbox', { config })).podSandboxId;
  }

  /** The status, and with `verbose` the runtime's own JSON under `info` (containerd: `info.info`). */
  podSandboxStatus(id: string, verbose = false): Promise<{ status: PodSandboxStatus; info: Record<string, string> }> {
    return call(this.runtime, 'PodSandboxStatus', { podSandboxId: id, verbose });
  }

  async listPodSandbox(): Promise<PodSandbox[]> {
    return (await call<{ items: PodSandbox[] }>(this.runtime, 'ListPodSandbox', {})).items;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await call(this.runtime, 'StopPodSandbox', { podSandboxId: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await call(this.runtime, 'RemovePodSandbox', { podSandboxId: id });
  }

  /** Creates and starts a container in the sandbox; the kubelet passes the sandbox's config again. */
  async startContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const { containerId } = await call<{ containerId: string }>(this.runtime, 'CreateContainer', { podSandboxId, config, sandboxConfig });
    await call(this.runtime, 'StartContainer', { containerId });
    return containerId;
  }
}

function call<T>(stub: Stub, method: string, request: unknown): Promise<T> {
  const rpc = stub[method];
  if (rpc === undefined) throw new Error(`no ${method} in ${PROTO}`);
  return new Promise((resolve, reject) => {
    rpc.call(stub, request, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, res) => {
      if (err) reject(new Error(`CRI ${method}: ${err.details || err.message}`));
      else resolve(res as T);
    });
  });
}
