// An esbuild plugin shared by the build and by tests that bundle lib/ code.
import { readFile } from 'node:fs/promises';

// netlink finds its addon with node-gyp-build relative to its own files; in a
// bundle those files are gone, so point it at the copy shipped in dist/lib/tscni.
// It is loaded when the first socket opens, not at start-up: VERSION and
// config errors need no dlopen.
export const netlinkAddon = {
  name: 'netlink-addon',
  setup(b) {
    b.onLoad({ filter: /netlink[\\/]dist[\\/]raw\.js$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8');
      const patched = src.replace(
        /require\('node-gyp-build'\)\(__dirname \+ '\/\.\.'\)/,
        "{ get NativeNetlink() { return require(require('path').join(globalThis.__TSCNI_LIB_DIR, 'netlink.node')).NativeNetlink; } }",
      );
      if (patched === src) throw new Error('netlink/dist/raw.js: node-gyp-build call not found');
      return { contents: patched, loader: 'js' };
    });
  },
};
