// The BIRD step: BIRD runs with the configuration rendered from the desired
// state. A configuration BIRD refuses is not installed (BIRD keeps the last
// good one); one it takes is a reload of the running BIRD, not a restart.
// Before etcd is read, BIRD starts from the last good configuration a BIRD
// ran here with: an agent that restarts while etcd is down keeps the node's
// sessions and routes.
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../../log';
import { reloadsAfterConfigure, renderBirdConfig, type BirdInput } from '../bird-config';
import type { BirdProcess } from '../bird-process';

export class BirdStep {
  private lastConfig: string | undefined;
  /** what the BIRD that runs was last configured from */
  private lastInput: BirdInput | undefined;

  constructor(readonly bird: BirdProcess, private readonly logger: Logger) {}

  /** BIRD first, from bird.conf as the last BIRD left it, when there is one. */
  async startFromLastGood(): Promise<void> {
    const { bird } = this;
    if (!existsSync(bird.paths.config)) return;
    try {
      this.logger.event('bird-running', { how: await bird.start(), config: bird.paths.config, why: 'the last good configuration, before etcd is read' });
      this.lastConfig = readFileSync(bird.paths.config, 'utf8');
    } catch (e) {
      this.logger.event('bird-start-failed', { error: (e as Error).message, why: 'the first sync starts it' });
    }
  }

  async apply(birdInput: BirdInput): Promise<void> {
    const { bird, logger } = this;
    const config = renderBirdConfig(birdInput);
    if (config === this.lastConfig && bird.started && this.lastInput !== undefined) return;
    // A configuration BIRD refuses is said once and not installed: BIRD keeps the last good one.
    const refused = await bird.install(config);
    if (refused !== undefined) logger.once('bird-config', 'bird-config-refused', { error: refused, why: 'not installed; BIRD keeps the last good configuration' });
    else logger.clear('bird-config');
    // A BIRD that just started read the file, as did one that runs this very file; one
    // that was running another must rerun the filters whose blocks changed.
    let reloads = refused === undefined && config !== this.lastConfig ? reloadsAfterConfigure(this.lastInput, birdInput) : [];
    if (!bird.started) {
      const how = await bird.start();
      if (how !== 'adopted') reloads = [];
      logger.event('bird-running', { how, config: bird.paths.config });
    } else if (refused === undefined) {
      await bird.reload();
    }
    this.lastConfig = config;
    if (refused === undefined) {
      this.lastInput = birdInput;
      const failed = await bird.refilter(reloads);
      if (failed.length > 0) logger.event('bird-refilter-failed', { protocols: failed.join(' '), why: 'no route refresh: routes learned before the block change keep the old filter' });
      logger.event('bird-configured', { sessions: birdInput.sessions.length, blocks: birdInput.ownBlocks.length });
    }
  }
}
