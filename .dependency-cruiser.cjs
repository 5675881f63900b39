/**
 * The layer order of src/, bottom to top, checked by `npm test` (dependency-cruiser). A folder
 * may import its own layer and the layers below it, never one above; no import cycle may cross a
 * folder boundary, and none may exist at all outside netback's files. The layers are listed in scripts/layers.cjs; docs/architecture.md
 * explains them, and `npm run graph` draws the import graph there.
 */
const { LAYERS } = require('./scripts/layers.cjs');

const folders = (ls) => `^src/(${ls.join('|')})/`;

const layerRules = LAYERS.slice(0, -1).map(([name, own, what], i) => {
  const above = LAYERS.slice(i + 1).flatMap(([, f]) => f);
  return {
    name: `${name}-imports-nothing-above`,
    comment: `${name} (${what}) may import only its own layer and those below it, not ${above.join(', ')}`,
    severity: 'error',
    from: { path: folders(own) },
    to: { path: folders(above) },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-cross-folder-cycle',
      comment: 'an import cycle stays inside one folder (a folder is one concept; a cycle across two makes them one)',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { circular: true, viaSomeNot: '^src/$1/' },
    },
    {
      name: 'no-cycle',
      comment: "no import cycle at all, except among netback's files: like Linux's xen-netback (common.h), they share the vif (the Netback class) and call each other; the cycle is that struct",
      severity: 'error',
      from: { pathNot: '^src/channels/netback(\\.ts$|/)' },
      to: { circular: true },
    },
    {
      name: 'no-inline-import-type-across-folders',
      comment: "an inline import('...') type hides a dependency on another folder: import the type at the top of the file, where the layer rules see it",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { dependencyTypes: ['type-import'], pathNot: '^src/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
