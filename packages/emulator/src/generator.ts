// Deterministic dataset generator. Record i depends only on (seed, i), so a test can rebuild any
// expected record without keeping the dataset (`recordAt`), and two runs with one seed agree.
// By default the first records are the edge cases a migration must survive and the rest look
// like ordinary chunked documents; the options below also make the shapes real indexes have
// (records without sparse values, ids reused across namespaces, mixed metadata, thousands of
// tiny namespaces), which `shapes.ts` names.

import { Prng, mix32 } from './prng.ts';

export type MetadataValue = string | number | boolean | string[];

export interface GeneratorOptions {
  /** Default 42. */
  seed?: number;
  count: number;
  /** Dense dimension; 0 for sparse-only records (a sparse index). */
  dim: number;
  /** How many namespaces (the first is the default namespace `""`), or their names. Default 1. */
  namespaces?: number | readonly string[];
  /**
   * `true`: dense + sparse on every record (hybrid, needs dotproduct); `'only'`: sparse records
   * for a sparse index; `'partial'`: hybrid, about 1 record in 5 without sparse values (the
   * first and third of every namespace among them, the rest at random); `'late'`: hybrid, the
   * first SPARSE_LATE_START records of every namespace without sparse values and every later one
   * with them (needs `ids: 'ordered'`, so that generation order is list order).
   */
  sparse?: boolean | 'only' | 'partial' | 'late';
  /** Non-zeros of each generated sparse vector (default 16). */
  sparseNonZeros?: number;
  /** Put the edge cases first (default: true with `ids: 'documents'`, which they need). */
  edgeCases?: boolean;
  /**
   * How ids are spelled: `'documents'` (default, `doc-12#chunk-3`); `'ordered'`
   * (`rec-000000042` for record 42: unique in the index, and list order within a namespace is
   * generation order); `'reused'` (`r0`, `r1`, … counted within each namespace: the same ids in
   * every namespace, as multi-tenant indexes have).
   */
  ids?: 'documents' | 'ordered' | 'reused';
  /**
   * `'documents'` (default): title, category, year, rating, published, tags. `'mixed'`: every
   * Pinecone metadata type, keys with dots, spaces and non-ASCII letters, one key holding a
   * string, a number or a boolean depending on the record, lists of up to 200 strings and texts
   * of up to 24 KB, and records without metadata or with `{}`.
   */
  metadata?: 'documents' | 'mixed';
  /**
   * `'round-robin'` (default): record i goes to namespace i mod K. `'few-per-namespace'`: each
   * namespace holds 1–3 records (decided by the seed), one namespace after the other; `count`
   * must be their total, `fewPerNamespaceCount(seed, K)`.
   */
  layout?: 'round-robin' | 'few-per-namespace';
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
/** With `sparse: 'late'`, the records of each namespace (in list order) that have no sparse values. */
export const SPARSE_LATE_START = 1200;
/** With `sparse: 'partial'`, the share of records without sparse values beyond the first three of a namespace. */
const PARTIAL_SPARSE_MISSING = 0.2;
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
  if (options.layout === 'few-per-namespace') {
    const starts = fewPerNamespaceStarts(options.seed ?? 42, names.length);
    names.forEach((name, k) => {
      out[name] = starts[k + 1]! - starts[k]!;
    });
    return out;
  }
  names.forEach((name, j) => {
    out[name] = options.count > j ? Math.floor((options.count - 1 - j) / names.length) + 1 : 0;
  });
  return out;
}

/** How many records `layout: 'few-per-namespace'` makes for this seed and number of namespaces. */
export function fewPerNamespaceCount(seed: number, namespaces: number): number {
  return fewPerNamespaceStarts(seed, namespaces)[namespaces]!;
}

/** The last few layouts' first-record positions, so that random access stays a binary search. */
const startsCache = new Map<string, Int32Array>();

/** starts[k] = position of namespace k's first record; starts[K] = the total. */
function fewPerNamespaceStarts(seed: number, namespaces: number): Int32Array {
  const key = `${seed}/${namespaces}`;
  let starts = startsCache.get(key);
  if (!starts) {
    starts = new Int32Array(namespaces + 1);
    const salt = mix32(seed >>> 0) ^ 0x27d4eb2f;
    for (let k = 0; k < namespaces; k++) starts[k + 1] = starts[k]! + 1 + (mix32(salt ^ Math.imul(k + 1, 0x9e3779b1)) % 3);
    if (startsCache.size >= 8) startsCache.delete(startsCache.keys().next().value!);
    startsCache.set(key, starts);
  }
  return starts;
}

/** Namespace (by position) of record i, and i's position within that namespace. */
function placeOf(options: GeneratorOptions, i: number, namespaces: number): { ns: number; j: number } {
  if (options.layout !== 'few-per-namespace') return { ns: i % namespaces, j: Math.floor(i / namespaces) };
  const starts = fewPerNamespaceStarts(options.seed ?? 42, namespaces);
  let lo = 0;
  let hi = namespaces - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= i) lo = mid;
    else hi = mid - 1;
  }
  return { ns: lo, j: i - starts[lo]! };
}

export function* generateRecords(options: GeneratorOptions): Generator<GeneratedRecord> {
  checkOptions(options);
  const names = namespaceNames(options);
  for (let i = 0; i < options.count; i++) yield recordAt(options, i, names);
}

/** Record `i` of the dataset described by `options`. */
export function recordAt(options: GeneratorOptions, i: number, names = namespaceNames(options)): GeneratedRecord {
  const seed = options.seed ?? 42;
  const prng = new Prng(seed, i);
  const sparseMode = options.sparse ?? false;
  const { ns, j } = placeOf(options, i, names.length);
  const record: GeneratedRecord = { namespace: names[ns]!, id: idOf(options.ids ?? 'documents', i, j) };
  if (sparseMode !== 'only') record.values = denseValues(prng, options.dim, options.float32 ?? false, options.valuesBuffer);
  if (sparseMode) {
    // Drawn even when the record goes without, so that the rest of the record does not depend on it.
    const sparse = sparseValues(prng, options.sparseNonZeros ?? 16);
    if (hasSparse(sparseMode, seed, i, j)) record.sparseValues = sparse;
  }
  const meta = options.metadata === 'mixed' ? mixedMetadata(prng, i) : regularMetadata(prng, i);
  if (meta) record.metadata = meta;
  if (edgeCasesOf(options) && i < EDGE_CASES.length) EDGE_CASES[i]!(record, i, options);
  return record;
}

function edgeCasesOf(options: GeneratorOptions): boolean {
  return options.edgeCases ?? (options.ids ?? 'documents') === 'documents';
}

function idOf(scheme: 'documents' | 'ordered' | 'reused', i: number, j: number): string {
  if (scheme === 'ordered') return `rec-${String(i).padStart(9, '0')}`;
  if (scheme === 'reused') return `r${j}`;
  return regularId(i);
}

/** Whether record i (the j-th of its namespace) carries sparse values in a hybrid dataset. */
function hasSparse(mode: true | 'only' | 'partial' | 'late', seed: number, i: number, j: number): boolean {
  if (mode === 'late') return j >= SPARSE_LATE_START;
  if (mode !== 'partial') return true;
  if (j < 3) return j === 1;
  return mix32(mix32(seed >>> 0) ^ Math.imul(i + 1, 0x85ebca6b) ^ 0x165667b1) / 2 ** 32 >= PARTIAL_SPARSE_MISSING;
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

const WORDS = ['plain', 'café', 'naïve', 'Zürich', '東京', 'Ελληνικά', 'emoji 🚀', 'résumé', 'quote " and \\ backslash'];
const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. ';

/** Metadata as real indexes carry it: see `GeneratorOptions.metadata`. Always under 40 KB. */
function mixedMetadata(prng: Prng, i: number): Record<string, MetadataValue> | undefined {
  if (i % 7 === 3) return undefined;
  if (i % 11 === 5) return {};
  const meta: Record<string, MetadataValue> = {
    title: `Record ${i}: ${prng.pick(WORDS)}`,
    count: prng.int(2_000_001) - 1_000_000,
    score: prng.next() * 100,
    published: prng.next() < 0.5,
    tags: [...new Set(Array.from({ length: prng.int(5) }, () => prng.pick(TAGS)))],
    'source.url': `https://example.com/docs/${i}?lang=en#part-${i % 5}`,
    'page title': `Page ${i % 100}`,
    résumé: prng.pick(WORDS),
    名前: `名前 ${i}`,
  };
  // One key, three types: a target must keep each record's own.
  meta.value = i % 3 === 0 ? `v${i}` : i % 3 === 1 ? i / 2 : i % 2 === 0;
  if (i % 4 === 0) {
    meta.maxSafeInteger = 9007199254740991;
    meta.tiny = 1e-7;
  }
  if (i % 8 === 0) meta.huge = 1.5e300;
  if (i % 29 === 7) meta.manyTags = Array.from({ length: 200 }, (_, k) => `tag-${k}-${i}`);
  if (i % 97 === 13) {
    const length = 16_000 + prng.int(8_000);
    meta.body = LOREM.repeat(Math.ceil(length / LOREM.length) + 1).slice(i % LOREM.length, (i % LOREM.length) + length);
  }
  return meta;
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
  const ids = o.ids ?? 'documents';
  if (o.edgeCases === true && ids !== 'documents') {
    throw new RangeError(`edgeCases need ids: 'documents' (the edge cases bring ids of their own, which would break the '${ids}' ids); leave edgeCases out`);
  }
  const namespaces = namespaceNames(o).length;
  if (o.sparse === 'late') {
    if (ids !== 'ordered' || (o.layout ?? 'round-robin') !== 'round-robin') {
      throw new RangeError("sparse: 'late' is defined in list order: use ids: 'ordered' and the round-robin layout");
    }
    if (Math.floor(o.count / namespaces) <= SPARSE_LATE_START) {
      throw new RangeError(
        `sparse: 'late' leaves the first ${SPARSE_LATE_START} records of each namespace without sparse values: count must exceed ${SPARSE_LATE_START} per namespace (more than ${(SPARSE_LATE_START + 1) * namespaces - 1} for ${namespaces} namespaces)`,
      );
    }
  }
  if (o.layout === 'few-per-namespace') {
    const total = fewPerNamespaceCount(o.seed ?? 42, namespaces);
    if (o.count !== total) {
      throw new RangeError(
        `layout 'few-per-namespace' decides the record count itself: ${namespaces} namespaces with seed ${o.seed ?? 42} hold ${total} records, so count must be ${total} (fewPerNamespaceCount)`,
      );
    }
  }
}
