// Deterministic dataset generator. Record i depends only on (seed, i), so a test can rebuild any
// expected record without keeping the dataset (`recordAt`), and two runs with one seed agree.
// The first records are the edge cases a migration must survive; the rest look like ordinary
// chunked documents.

import { Prng } from './prng.ts';

export type MetadataValue = string | number | boolean | string[];

export interface GeneratorOptions {
  /** Default 42. */
  seed?: number;
  count: number;
  /** Dense dimension; 0 for sparse-only records (a sparse index). */
  dim: number;
  /** How many namespaces (the first is the default namespace `""`), or their names. Default 1. */
  namespaces?: number | readonly string[];
  /** `true`: dense + sparse (hybrid, needs dotproduct); `'only'`: sparse records for a sparse index. */
  sparse?: boolean | 'only';
  /** Non-zeros of each generated sparse vector (default 16). */
  sparseNonZeros?: number;
  /** Put the edge cases first (default true). */
  edgeCases?: boolean;
  /** Dense values as Float32Array instead of number[] (for in-process loading). */
  float32?: boolean;
  /**
   * With `float32`: write every record's values into this one array (yielded each time), for a
   * consumer that copies them before asking for the next record, like `Emulator.load`.
   */
  valuesBuffer?: Float32Array;
}

export interface GeneratedRecord {
  /** `""` is the default namespace. */
  namespace: string;
  id: string;
  values?: number[] | Float32Array;
  sparseValues?: { indices: number[]; values: number[] };
  metadata?: Record<string, MetadataValue>;
}

export const METADATA_LIMIT_BYTES = 40 * 1024;
const MAX_UINT32 = 4294967295;
const PUNCTUATION = ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const CATEGORIES = ['news', 'sports', 'science', 'arts', 'travel', 'finance', 'health', 'food'];
const TAGS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];

/** The namespace names, the default namespace (`""`) first. */
export function namespaceNames(options: Pick<GeneratorOptions, 'namespaces'>): string[] {
  const ns = options.namespaces ?? 1;
  if (typeof ns !== 'number') return [...ns];
  if (!Number.isInteger(ns) || ns < 1) throw new RangeError('namespaces must be a positive integer');
  return Array.from({ length: ns }, (_, j) => (j === 0 ? '' : `ns-${j}`));
}

/** Records per namespace for `generateRecords(options)`. */
export function expectedCounts(options: GeneratorOptions): Record<string, number> {
  const names = namespaceNames(options);
  const out: Record<string, number> = {};
  names.forEach((name, j) => {
    out[name] = options.count > j ? Math.floor((options.count - 1 - j) / names.length) + 1 : 0;
  });
  return out;
}

export function* generateRecords(options: GeneratorOptions): Generator<GeneratedRecord> {
  checkOptions(options);
  const names = namespaceNames(options);
  for (let i = 0; i < options.count; i++) yield recordAt(options, i, names);
}

/** Record `i` of the dataset described by `options`. */
export function recordAt(options: GeneratorOptions, i: number, names = namespaceNames(options)): GeneratedRecord {
  const prng = new Prng(options.seed ?? 42, i);
  const sparseMode = options.sparse ?? false;
  const record: GeneratedRecord = { namespace: names[i % names.length]!, id: regularId(i) };
  if (sparseMode !== 'only') record.values = denseValues(prng, options.dim, options.float32 ?? false, options.valuesBuffer);
  if (sparseMode) record.sparseValues = sparseValues(prng, options.sparseNonZeros ?? 16);
  const meta = regularMetadata(prng, i);
  if (meta) record.metadata = meta;
  if ((options.edgeCases ?? true) && i < EDGE_CASES.length) EDGE_CASES[i]!(record, i, options);
  return record;
}

type EdgeCase = (r: GeneratedRecord, i: number, o: GeneratorOptions) => void;

const EDGE_CASES: EdgeCase[] = [
  // 0: the longest id allowed.
  (r, i) => {
    r.id = `long-${i}-`.padEnd(512, 'x');
    r.metadata = allTypesMetadata();
  },
  // 1: every printable ASCII punctuation character, space included.
  (r, i) => {
    r.id = `punct ${i} ${PUNCTUATION}`;
  },
  // 2: characters that mean something in URLs and query strings.
  (r, i) => {
    r.id = `q?ids=${i}&namespace=x#frag%20%2e%2e/+plus=`;
  },
  // 3: unicode metadata strings.
  (r) => {
    r.metadata = {
      title: 'Ünïcödé ☃ 日本語 🚀 — “quotes” and \\backslash\\',
      emoji: '👩‍💻🇫🇷',
      rtl: 'שלום עולם',
      combining: 'e\u0301',
      control: 'tab\tnew\nline',
      list: ['ü', '中文', '🙂'],
    };
  },
  // 4: empty metadata object.
  (r) => {
    r.metadata = {};
  },
  // 5: metadata of exactly the 40 KB limit.
  (r) => {
    r.metadata = maxSizeMetadata();
  },
  // 6: no metadata at all.
  (r) => {
    delete r.metadata;
  },
  // 7: every metadata type, with boundary numbers.
  (r) => {
    r.metadata = allTypesMetadata();
  },
  // 8: sparse indices at the top of the uint32 range (dense-only datasets get extreme floats instead).
  (r, i, o) => {
    if (o.sparse) {
      r.sparseValues = {
        indices: [0, 1, 2147483647, 2147483648, MAX_UINT32 - 1, MAX_UINT32],
        values: [0.5, -0.25, 1e-6, 3.5, -2, 0.125].map(Math.fround),
      };
    } else if (r.values) {
      setExtremeValues(r.values);
    }
  },
  // 9: a one-character id.
  (r, i) => {
    r.id = String(i);
  },
  // 10: leading and trailing spaces.
  (r, i) => {
    r.id = `  spaced ${i}  `;
  },
  // 11: unusual metadata keys (empty, space, non-ASCII, underscore).
  (r) => {
    r.metadata = { '': 'empty key', ' ': 'space key', ключ: 'non-ASCII key', _private: 1, 'dotted.key': true };
  },
  // 12: float32 extremes in the values (subnormal, max, exact integers).
  (r) => {
    if (r.values) setExtremeValues(r.values);
  },
  // 13: ids that sort before and after everything else.
  (r, i) => {
    r.id = `${i % 2 === 0 ? '!' : '~'}edge-${i}`;
  },
];

/** How many leading records are edge cases. */
export const EDGE_CASE_COUNT = EDGE_CASES.length;

function setExtremeValues(values: number[] | Float32Array): void {
  const extremes = [1e-40, -1e-40, 3.4028234663852886e38, -3.4028234663852886e38, 1, -1, 0, 16777216, 1e-8, 0.1];
  for (let j = 0; j < values.length && j < extremes.length; j++) values[j] = Math.fround(extremes[j]!);
}

function regularId(i: number): string {
  return `doc-${Math.floor(i / 8)}#chunk-${i % 8}`;
}

function denseValues(prng: Prng, dim: number, float32: boolean, buffer: Float32Array | undefined): number[] | Float32Array {
  if (float32) {
    const out = buffer && buffer.length >= dim ? buffer.subarray(0, dim) : new Float32Array(dim);
    for (let j = 0; j < dim; j++) out[j] = prng.next() * 2 - 1;
    return out;
  }
  const out: number[] = new Array(dim);
  for (let j = 0; j < dim; j++) out[j] = Math.fround(prng.next() * 2 - 1);
  return out;
}

function sparseValues(prng: Prng, nnz: number): { indices: number[]; values: number[] } {
  const set = new Set<number>();
  while (set.size < nnz) set.add(prng.nextUint32());
  const indices = [...set].sort((a, b) => a - b);
  return { indices, values: indices.map(() => Math.fround(prng.next() * 4)) };
}

function regularMetadata(prng: Prng, i: number): Record<string, MetadataValue> | undefined {
  if (i % 10 === 9) return undefined;
  if (i % 50 === 8) return {};
  const tags = [prng.pick(TAGS), prng.pick(TAGS)];
  return {
    title: `Document ${Math.floor(i / 8)}, chunk ${i % 8}`,
    category: prng.pick(CATEGORIES),
    year: 1990 + prng.int(35),
    rating: Math.round(prng.next() * 5000) / 1000,
    published: prng.next() < 0.5,
    tags: tags[0] === tags[1] ? [tags[0]!] : tags,
  };
}

function allTypesMetadata(): Record<string, MetadataValue> {
  return {
    string: 'plain text',
    emptyString: '',
    integer: 42,
    negative: -7,
    zero: 0,
    maxSafeInteger: 9007199254740991,
    float: 3.14159,
    tiny: 1e-7,
    huge: 1.5e300,
    yes: true,
    no: false,
    list: ['a', 'b', 'ü'],
    emptyList: [],
  };
}

/** Metadata whose JSON text is exactly METADATA_LIMIT_BYTES long. */
function maxSizeMetadata(): Record<string, MetadataValue> {
  const base = { kind: 'max-size', blob: '' };
  const overhead = Buffer.byteLength(JSON.stringify(base));
  return { kind: 'max-size', blob: 'x'.repeat(METADATA_LIMIT_BYTES - overhead) };
}

function checkOptions(o: GeneratorOptions): void {
  if (!Number.isInteger(o.count) || o.count < 0) throw new RangeError('count must be a non-negative integer');
  if (o.sparse === 'only') {
    if (o.dim !== 0) throw new RangeError('sparse-only records have no dense values: use dim 0');
  } else if (!Number.isInteger(o.dim) || o.dim < 1 || o.dim > 20_000) {
    throw new RangeError('dim must be an integer between 1 and 20000');
  }
}
