// The nft-cli fixture as one CommonJS file for a node's namespace.
import { bundleFixture } from './fixture-bundle';

export function bundleNftCli(dir: string): Promise<string> {
  return bundleFixture('nft-cli.ts', dir);
}
