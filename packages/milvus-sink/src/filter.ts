import type { CollectionPlan } from '@p2m/core';

/**
 * Milvus boolean expressions built from untrusted strings (namespaces and ids may hold quotes,
 * backslashes, newlines). Every string goes through `quote`; nothing is concatenated raw.
 */

/**
 * A Milvus string literal for `s`. Milvus's grammar takes any character but `"`, `\` and line breaks
 * raw inside a double-quoted literal, and knows the C escapes `\" \\ \n \r \t`. `\u`/`\x` escapes
 * are not used: Milvus Lite 3 rejects them, and raw characters need none.
 */
export function quote(s: string): string {
  // Most ids need no escape: one concatenation, not a string per character (a lookup's filter
  // quotes thousands of keys; per character it was a sixteenth of reconciliation's allocations).
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      default:
        out += ch;
    }
  }
  return out + '"';
}

const NEEDS_ESCAPE = /["\\\n\r\t]/;

export function fieldEquals(field: string, value: string): string {
  return `${field} == ${quote(value)}`;
}

export function fieldIn(field: string, values: readonly string[]): string {
  return `${field} in [${values.map(quote).join(', ')}]`;
}

export function and(...parts: (string | null)[]): string {
  const present = parts.filter((p): p is string => p !== null && p !== '');
  return present.length <= 1 ? (present[0] ?? '') : present.map((p) => `(${p})`).join(' && ');
}

/**
 * Where a namespace lives: a filter on the namespace field (partition-key mode) or a partition
 * (partitions mode). In partitions mode the filter is a tautology on the primary key, because
 * Milvus Lite 3 answers `count(*)` with an empty filter from the whole collection, ignoring
 * `partition_names`; a real filter makes it count the partition, and Milvus agrees.
 */
export interface NamespaceScope {
  filter: string;
  partitionNames?: string[];
}

export function namespaceScope(plan: CollectionPlan, namespace: string): NamespaceScope {
  if (plan.namespaceMode === 'partitionKey') return { filter: fieldEquals(plan.names.namespace, namespace) };
  const partition = plan.partitions[namespace];
  if (partition === undefined) throw new Error(`namespace ${JSON.stringify(namespace)} has no partition in the plan of collection ${plan.collection}`);
  return { filter: `${plan.names.id} >= ""`, partitionNames: [partition] };
}

/** Orders strings as Milvus compares VARCHAR values: by their UTF-8 bytes. */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
