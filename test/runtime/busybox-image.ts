// An OCI image made from the node's busybox rootfs, for the CRI plugin, which
// runs only images it has (no registry is reachable). One uncompressed layer;
// its default command sleeps, so it serves as the pod sandbox ("pause") image
// as well as the image of a container that is given its own command.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type Harness } from '../integration/harness';
import type { RuntimeNode } from './node';

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** The OCI platform of this machine (the importer keeps only the manifest that matches it). */
const ARCH: string = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;

interface Blob { digest: string; size: number }

async function putBlob(layout: string, content: Buffer): Promise<Blob> {
  const hex = createHash('sha256').update(content).digest('hex');
  await writeFile(join(layout, 'blobs', 'sha256', hex), content);
  return { digest: `sha256:${hex}`, size: content.length };
}

/**
 * Builds the image as an OCI archive in a temp dir and imports it into the
 * node's containerd under `name` (a full reference, e.g. `localhost/x:1`),
 * in `namespace` and unpacked for `snapshotter`, where the CRI plugin looks.
 */
export async function importBusyboxImage(h: Harness, node: RuntimeNode, o: { name: string; namespace: string; snapshotter: string }): Promise<void> {
  const work = await h.tempDir('image');
  const layout = join(work, 'oci');
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });

  // The node's rootfs is visible only inside the node; the temp dir is visible to both.
  const layerTar = join(work, 'layer.tar');
  await node.exec('tar', ['-C', node.rootfs, '--owner=0', '--group=0', '--numeric-owner', '-cf', layerTar, '.']);
  const layerBytes = await readFile(layerTar);
  const layer = await putBlob(layout, layerBytes);

  const config = await putBlob(layout, Buffer.from(JSON.stringify({
    architecture: ARCH,
    os: 'linux',
    config: { Env: ['PATH=/bin'], Entrypoint: ['/bin/sleep'], Cmd: ['2147483647'] },
    // an uncompressed layer's diff id is its own digest
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = await putBlob(layout, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, ...config },
    layers: [{ mediaType: MEDIA.layer, ...layer }],
  })));
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{
      mediaType: MEDIA.manifest,
      ...manifest,
      platform: { architecture: ARCH, os: 'linux' },
      // containerd names an imported image by this annotation
      annotations: { 'io.containerd.image.name': o.name },
    }],
  }));

  const archive = join(work, 'image.tar');
  await run('tar', ['-C', layout, '-cf', archive, '.']);
  await node.exec('ctr', ['-n', o.namespace, 'images', 'import', '--snapshotter', o.snapshotter, archive], { timeout: 60_000 });
}
