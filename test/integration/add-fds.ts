// Test fixture: bridge ADD in this process with only `free` file descriptors
// left, so that opening the pod's namespace or one of the netlink sockets
// fails; prints how many namespace files and sockets (what ADD opens) the
// failed ADD left open. Bundled by
// the test and run with `ip netns exec` in a node namespace, under a small
// RLIMIT_NOFILE.
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { Logger } from '../../lib/cni/log';
import { cmdAdd } from '../../plugins/bridge/add';
import { parseBridgeConfig } from '../../plugins/bridge/config';

async function main(): Promise<void> {
  const [netns, free] = process.argv.slice(2);
  const openFds = () => readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return /^(socket|net):\[/.test(readlinkSync(`/proc/self/fd/${fd}`)) || readlinkSync(`/proc/self/fd/${fd}`) === netns;
    } catch {
      return false; // the directory's own descriptor, closed by now
    }
  }).length;
  const before = openFds();
  const raw = { cniVersion: '1.0.0', name: 'fds', type: 'bridge', bridge: 'fds0' };
  const filler: number[] = [];
  try {
    for (;;) filler.push(openSync('/dev/null', 'r'));
  } catch {
    // EMFILE: the descriptor table is full
  }
  for (const fd of filler.splice(0, Number(free))) closeSync(fd);
  let error = '';
  try {
    await cmdAdd({
      command: 'ADD', containerId: `fds-${free}`, netns: netns!, ifname: 'eth0', args: {}, path: [], raw, cniVersion: '1.0.0',
      config: parseBridgeConfig(raw), log: new Logger({ level: 'error' }, { plugin: 'bridge', command: 'ADD' }),
    });
  } catch (e) {
    error = (e as Error).message;
  }
  for (const fd of filler) closeSync(fd);
  process.stdout.write(JSON.stringify({ leaked: openFds() - before, error }));
}

void main();
