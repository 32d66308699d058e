import type { CollectionPlan } from '@p2m/core';
import { formatTable, nsLabel, num } from './follow.ts';

const SPARSE_ROWS: Record<CollectionPlan['sparseRows'], string> = {
  none: 'no sparse field (the index has no sparse values)',
  required: 'every record has sparse values (a sparse index)',
  nullable: 'a record without sparse values stores NULL',
  emptyRow: 'a record without sparse values stores an empty sparse row',
};

/**
 * `p2m jobs plan`: the collection p2m creates, and why — what the target said it can do (how each
 * capability is known: probed, documented, configured or unknown) and what the job does about it.
 */
export function planLines(plan: CollectionPlan): string[] {
  const rows = plan.fields.map((f) => {
    const type = f.dataType === 'VarChar' ? `VarChar(${f.maxLength})` : f.dataType === 'FloatVector' ? `FloatVector(${f.dim})` : f.dataType;
    const notes = [f.isPrimaryKey ? 'primary key' : '', f.isPartitionKey ? 'partition key' : '', f.nullable ? 'nullable' : ''].filter(Boolean).join(', ');
    return [f.name, type, f.role, notes];
  });
  const lines = [
    `Collection ${plan.collection}: ${plan.description}`,
    ...formatTable(['FIELD', 'TYPE', 'ROLE', 'NOTES'], rows),
    'dynamic field ($meta): on (Pinecone metadata)',
  ];
  const when = plan.indexesWithCollection ? 'created with the collection, built during the load' : 'created after the load, by verification';
  for (const i of plan.indexes) lines.push(`index on ${i.field}: ${i.indexType} / ${i.metricType}, ${when}`);
  lines.push(
    plan.primaryKey === 'namespaceAndId'
      ? `primary key: "${plan.primaryKeyField}" = namespace and id (every (namespace, id) pair is its own row)`
      : `primary key: "${plan.primaryKeyField}" = the record id (one row per id across namespaces)`,
  );
  lines.push(`namespaces: ${plan.namespaceMode === 'partitionKey' ? 'a partition-key field' : 'one partition each'}`);
  if (plan.namespaceMode === 'partitions') {
    lines.push(
      `partitions: ${Object.entries(plan.partitions)
        .map(([ns, p]) => `${nsLabel(ns)} → ${p}`)
        .join(', ')}`,
    );
  }
  lines.push(`sparse values: ${SPARSE_ROWS[plan.sparseRows]}`);
  lines.push(
    `loaders ${plan.flushBeforeCommit ? 'flush the collection before they commit offsets (the target does not keep acknowledged writes by itself)' : 'commit offsets without flushing (the target keeps acknowledged writes)'}`,
  );
  lines.push(
    `source: ${plan.source.index} (${plan.source.metric}, ${plan.source.vectorType}), ${num(plan.source.totalRecords)} records in ${plan.source.namespaces.length} namespaces`,
  );
  const target = plan.target;
  if (target) {
    const caps = target.capabilities;
    lines.push(`target reports version "${caps.serverVersion}"${caps.milvusVersion ? ` (Milvus ${caps.milvusVersion})` : ''}; what it can do:`);
    lines.push(
      ...formatTable(
        ['CAPABILITY', 'VALUE', 'HOW KNOWN', 'WHAT THE JOB DOES'],
        target.decisions.map((d) => [d.capability, d.value, d.how, d.decision]),
      ).map((l) => `  ${l}`),
    );
  }
  return lines;
}
