// `tscni-agent overlay [flags]`: exit 2 for bad flags, 1 for a problem found
// at start (the config etcd holds, the underlay; an etcd that does not answer
// is waited for), 0 after SIGTERM.
import { createLogger } from '../log';
import { OptionsError } from '../../lib/flags';
import { OVERLAY_AGENT_USAGE, parseOverlayOptions } from './options';
import { runOverlayAgent } from './agent';

export async function overlayMain(args: string[]): Promise<number> {
  if (args[0] === 'help' || args[0] === '--help') {
    process.stdout.write(OVERLAY_AGENT_USAGE);
    return 0;
  }
  const log = createLogger();
  let options;
  try {
    options = parseOverlayOptions(args, process.env);
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    process.stderr.write(`tscni-agent overlay: ${e.message}\n\n${OVERLAY_AGENT_USAGE}`);
    return 2;
  }
  try {
    await runOverlayAgent(options, log);
    return 0;
  } catch (e) {
    log.event('exiting', { error: (e as Error).message });
    process.stderr.write(`tscni-agent overlay: ${(e as Error).message}\n`);
    return 1;
  }
}
