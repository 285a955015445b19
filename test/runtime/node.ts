// A virtual node for a real container runtime: the harness's node netns plus a
// private mount namespace, held open by one long-lived process. Inside it the
// runtime sees a /sys of its own netns (with the machine's cgroup mounts carried
// over, or runc cannot create cgroups), a private /run, overlays on /etc, /opt,
// /usr and /var/lib whose changes live in a tmpfs, and CNI directories that hold
// our installed plugins and nothing else. Everything the runtime writes vanishes
// with the namespace; the only things it makes outside are cgroups, which
// stop() removes by the roots it was given.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type ExecOptions, type ExecResult, type Harness, type Netns } from '../integration/harness';

/** Runs as `sh -c SETUP sh <scratch> <tree>` inside the new mount namespace. */
const SETUP = String.raw`
set -eu
scratch=$1 tree=$2
mount -t tmpfs -o mode=0755 tscni-node "$scratch"

# A sysfs mounted now belongs to the node's netns; the cgroup mounts under the
# machine's /sys are moved across so runc still finds its hierarchies.
mkdir "$scratch/cgroup"
mount --rbind /sys/fs/cgroup "$scratch/cgroup"
mount -t sysfs sysfs /sys
mount --move "$scratch/cgroup" /sys/fs/cgroup

mount -t tmpfs -o mode=0755 tscni-run /run
for d in etc opt usr var/lib; do
  o="$scratch/overlay/$d"
  mkdir -p "$o/upper" "$o/work"
  mount -t overlay -o "lowerdir=/$d,upperdir=$o/upper,workdir=$o/work" tscni-overlay "/$d"
done

# Empty CNI directories first, so no plugin of the machine's shows through,
# then our installed tree; /usr/lib/cni stays empty (Debian's ctr searches it).
for d in /opt/cni/bin /usr/lib/cni /var/lib/cni; do
  mkdir -p "$d"
  mount -t tmpfs -o mode=0755 tscni-cni "$d"
done
for top in "$tree"/*; do
  case "$(basename "$top")" in etc|opt|usr|var) ;; *) echo "install tree writes outside the overlays: $top" >&2; exit 1 ;; esac
  cp -R --preserve=mode,timestamps,links "$top/." "/$(basename "$top")/"
done
mount -o remount,ro /usr/lib/cni
mkdir -p /etc/cni/net.d
mount -t tmpfs -o mode=0755 tscni-cni /etc/cni/net.d

# Containers' root: busybox-static and a few applets, nothing pulled.
mkdir -p "$scratch/rootfs/bin" "$scratch/rootfs/etc" "$scratch/rootfs/tmp"
cp /bin/busybox "$scratch/rootfs/bin/busybox"
for applet in sh nc ip ping sleep cat echo hostname; do ln -s busybox "$scratch/rootfs/bin/$applet"; done

echo ready
exec sleep infinity
`;

const NODE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface Background {
  child: ChildProcess;
  /** stdout and stderr so far, for failure messages */
  output(): string;
  exited: Promise<number>;
}

export class RuntimeNode {
  /** busybox root for containers, visible only inside the node */
  readonly rootfs: string;
  private readonly background = new Set<ChildProcess>();

  private constructor(
    readonly netns: Netns,
    private readonly holder: ChildProcess & { pid: number },
    scratch: string,
    private readonly cgroupRoots: string[],
  ) {
    this.rootfs = join(scratch, 'rootfs');
  }

  /**
   * `tree` is an install tree (DESTDIR) copied over the node's root; `cgroupRoots`
   * are the cgroup parents the runtime is told to use, removed by stop().
   */
  static async start(h: Harness, tree: string, cgroupRoots: string[]): Promise<RuntimeNode> {
    const netns = await h.createNode();
    const scratch = await h.tempDir('scratch');
    const holder = spawn('nsenter', [`--net=${netns.path}`, '--', 'unshare', '--mount', '--propagation', 'private',
      '--', 'sh', '-c', SETUP, 'sh', scratch, tree], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    holder.stderr.on('data', (b: Buffer) => (output += b.toString()));
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (b: Buffer) => (output += b.toString()).includes('ready\n') && resolve());
      holder.on('exit', (code) => reject(new Error(`node set-up exited ${code}: ${output.trim()}`)));
      holder.on('error', reject);
    });
    return new RuntimeNode(netns, holder as ChildProcess & { pid: number }, scratch, cgroupRoots);
  }

  private argv(cmd: string, args: string[], env: Record<string, string>): string[] {
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return ['-t', String(this.holder.pid), '-m', '-n', '--', 'env', '-i', NODE_PATH, 'HOME=/root', ...assignments, cmd, ...args];
  }

  /** Runs a command in the node (its netns and mount namespace) with a clean environment. */
  exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const { env = {}, ...rest } = opts;
    return run('nsenter', this.argv(cmd, args, env), rest);
  }

  /** A long-running command in the node (a daemon, `ctr run` in the foreground). */
  spawn(cmd: string, args: string[], env: Record<string, string> = {}): Background {
    const child = spawn('nsenter', this.argv(cmd, args, env), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    this.background.add(child);
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 128)));
    void exited.then(() => this.background.delete(child));
    return { child, output: () => output, exited };
  }

  /** A path inside the node as this process opens it (e.g. a daemon's socket under the node's private /run). */
  hostPath(path: string): string {
    return `/proc/${this.holder.pid}/root${path}`;
  }

  async writeFile(path: string, content: string): Promise<void> {
    await this.exec('sh', ['-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', path], { input: content });
  }

  /**
   * Kills what is left: container processes in our cgroups, then every process
   * in the node's mount namespace (daemons, shims, conmon), then the holder, so
   * the namespace and its mounts go away; then removes our cgroups.
   */
  async stop(): Promise<void> {
    const cgroupDirs = await findCgroupDirs(this.cgroupRoots);
    for (const dir of cgroupDirs) for (const pid of await cgroupProcs(dir)) killPid(pid);
    const ownMnt = await readlink(`/proc/${this.holder.pid}/ns/mnt`).catch(() => undefined);
    if (ownMnt !== undefined) {
      for (const pid of await pidsInMountNs(ownMnt)) if (pid !== this.holder.pid) killPid(pid);
    }
    for (const child of this.background) child.kill('SIGKILL');
    this.holder.kill('SIGKILL');
    await removeCgroups(cgroupDirs);
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function pidsInMountNs(mnt: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if ((await readlink(`/proc/${entry}/ns/mnt`).catch(() => '')) === mnt) pids.push(Number(entry));
  }
  return pids;
}

/** Each root under every mounted hierarchy (v1: one per controller; v2: one). */
async function findCgroupDirs(roots: string[]): Promise<string[]> {
  const base = '/sys/fs/cgroup';
  const candidates = [base, ...(await readdir(base)).map((e) => join(base, e))];
  const dirs: string[] = [];
  for (const hierarchy of candidates) {
    for (const root of roots) {
      const dir = join(hierarchy, root);
      if ((await stat(dir).catch(() => undefined))?.isDirectory() && (await stat(join(dir, 'cgroup.procs')).catch(() => undefined))) {
        dirs.push(dir);
      }
    }
  }
  return dirs;
}

async function cgroupProcs(dir: string): Promise<number[]> {
  const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) pids.push(...(await cgroupProcs(join(dir, e.name))));
  }
  return pids;
}

/** Depth first; a cgroup whose last process is still dying is retried for a few seconds. */
async function removeCgroups(dirs: string[]): Promise<void> {
  const removeTree = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await removeTree(join(dir, e.name));
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        if (attempt >= 50) throw new Error(`cannot remove cgroup ${dir}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  for (const dir of dirs) await removeTree(dir);
}
