import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SHAPES, expectedCounts, shapeOptions, startEmulator, type Emulator } from '@p2m/emulator';
import { register } from './emulator.ts';

const KEY = 'cli-seed-key';
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, apiKey: KEY, rateLimits: false });
});

afterAll(async () => {
  await emulator?.close();
});

/** Runs `p2m emulator ...`; returns what it printed on stdout. */
async function run(args: string[]): Promise<string> {
  const program = new Command('p2m').exitOverride().configureOutput({ writeErr: () => undefined });
  register(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await program.parseAsync(['node', 'p2m', 'emulator', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

const seedArgs = (index: string): string[] => ['seed', '--url', emulator.controllerHostUrl, '--api-key', KEY, '--index', index, '--quiet'];

describe('p2m emulator seed --shape', () => {
  it('seeds a shape with its defaults, and takes the flags the shape leaves open', async () => {
    const out = JSON.parse(await run([...seedArgs('cli-late'), '--shape', 'sparse-late', '--seed', '5']));
    const want = shapeOptions('sparse-late', { seed: 5 });
    expect(out).toMatchObject({ shape: 'sparse-late', index: 'cli-late', created: true, upserted: want.count, namespaces: expectedCounts(want) });
    expect(emulator.stats().indexes['cli-late']!.namespaces).toEqual(expectedCounts(want));

    const mixed = JSON.parse(await run([...seedArgs('cli-mix'), '--shape', 'metadata-mix', '--count', '300', '--namespaces', '3', '--dim', '4', '--sparse']));
    expect(mixed.namespaces).toEqual({ '': 100, 'ns-1': 100, 'ns-2': 100 });
    const model = await (await fetch(`${emulator.controllerHostUrl}/indexes/cli-mix`, { headers: { 'Api-Key': KEY } })).json();
    expect(model).toMatchObject({ dimension: 4, metric: 'dotproduct' });
  });

  it('refuses flags a shape decides itself, and unknown shapes, naming them', async () => {
    await expect(run([...seedArgs('x'), '--shape', 'sparse-only', '--dim', '8'])).rejects.toThrow(/--dim does not apply to --shape sparse-only/);
    await expect(run([...seedArgs('x'), '--shape', 'odd-namespaces', '--namespaces', '2'])).rejects.toThrow(/--namespaces does not apply/);
    await expect(run([...seedArgs('x'), '--shape', 'reused-ids', '--count', '100'])).rejects.toThrow(/multiple of namespaces/);
    await expect(run([...seedArgs('x'), '--shape', 'hybrid-partial-sparse', '--pod'])).rejects.toThrow(/--pod does not combine with --shape/);
    await expect(run([...seedArgs('x'), '--shape', 'nope'])).rejects.toThrow(/unknown shape "nope"; the shapes are hybrid-partial-sparse/);
    await expect(run([...seedArgs('x')])).rejects.toThrow(/--count is required/);
    expect(emulator.stats().indexes.x).toBeUndefined();
  });

  it('lists the shapes, as text or JSON', async () => {
    const text = await run(['shapes']);
    for (const shape of SHAPES) expect(text).toContain(shape.name);
    const json = (await run(['shapes', '--json'])).split('\n').map((l) => JSON.parse(l) as { name: string });
    expect(json.map((s) => s.name)).toEqual(SHAPES.map((s) => s.name));
  });
});
