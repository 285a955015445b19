// The subnet file as the plugin reads it: missing is "try again later" (11),
// since the node's agent writes it once it holds a lease; garbled is an
// invalid network config (7) naming the line and key; unreadable is an I/O
// failure (5).
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { readFileBounded } from '../../lib/cni/input';
import { parseSubnetEnv, SubnetEnvError, type SubnetEnv } from '../../lib/flannel/subnet-env';

export function readSubnetFile(file: string): SubnetEnv {
  let text: string;
  try {
    text = readFileBounded(file).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `subnetFile: ${file} does not exist: this node holds no subnet lease yet (is flanneld or tscni-agent overlay running?)`,
      );
    }
    throw new CniError(ErrorCode.IoFailure, `subnetFile: reading ${file}: ${(e as Error).message}`);
  }
  try {
    return parseSubnetEnv(text, file);
  } catch (e) {
    if (e instanceof SubnetEnvError) throw new CniError(ErrorCode.InvalidNetworkConfig, `subnetFile: ${e.message}`);
    throw e;
  }
}
