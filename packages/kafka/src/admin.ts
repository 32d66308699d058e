import kafkajs, { type Admin, type Kafka } from 'kafkajs';

// kafkajs is CommonJS: Node's ESM loader does not see ConfigResourceTypes as a named export (vitest
// does, so only a plain `node` run shows it). Take it from the default export.
const { ConfigResourceTypes } = kafkajs;
import { EtlError, type LogAdmin, type PartitionOffset, type TopicSpec } from '@p2m/core';
import { kafkaErrorTypes, toEtlError } from './errors.ts';

/** `config_source` of a setting made on the topic itself (DescribeConfigs). */
const TOPIC_CONFIG_SOURCE = 1;
/** Kafka's default max.message.bytes (message.max.bytes of the broker). */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** The settings p2m makes a topic with, by Kafka name. */
export function settingsFor(spec: TopicSpec): Map<string, string> {
  const config = new Map<string, string>();
  if (spec.compacted) config.set('cleanup.policy', 'compact');
  if (spec.segmentMs !== undefined) config.set('segment.ms', String(spec.segmentMs));
  if (spec.retentionMs !== undefined) config.set('retention.ms', String(spec.retentionMs));
  if (spec.retentionMs === -1) config.set('retention.bytes', '-1');
  if (spec.maxMessageBytes !== undefined) config.set('max.message.bytes', String(spec.maxMessageBytes));
  return config;
}

/**
 * KafkaJS admin behind the `LogAdmin` port; connects on first use.
 *
 * A KafkaJS client keeps every topic it has ever touched in each metadata request it sends. Once
 * such a topic is deleted by another client (another controller deleting a job, a user, a test),
 * the broker answers every one of those requests with UNKNOWN_TOPIC_OR_PARTITION, so every later
 * call of that admin fails, about any topic, for as long as the process lives: p2m saw it as
 * "Kafka unreachable" and failed the jobs two minutes later. So when a call fails that way, the
 * admin's topics are checked against the cluster's: if one it has used is gone, or the call's own
 * topic is there after all, the call is made once more on a fresh admin, which knows no topic yet,
 * and the old one is disconnected once the calls still running on it end. A call about a topic
 * that is simply missing fails as before, without replacing anything (the controller measures
 * jobs whose topic was deleted every tick).
 */
interface AdminHandle {
  admin: Admin;
  inFlight: number;
  retired: boolean;
  /** Topics a call of this admin named and succeeded with: KafkaJS may keep them in its metadata requests. */
  used: Set<string>;
}

export class KafkaLogAdmin implements LogAdmin {
  readonly #kafka: Kafka;
  #connecting: Promise<AdminHandle> | null = null;
  readonly #retired = new Set<AdminHandle>();
  #shutDown = false;
  /** Admins replaced after a deleted topic poisoned their metadata (tests read it). */
  replacedAdmins = 0;

  constructor(kafka: Kafka) {
    this.#kafka = kafka;
  }

  #admin(): Promise<AdminHandle> {
    if (this.#shutDown) return Promise.reject(new EtlError('INTERNAL', 'Kafka admin is shut down (its client was closed)', { retriable: false }));
    this.#connecting ??= (async () => {
      const admin = this.#kafka.admin();
      try {
        await admin.connect();
      } catch (err) {
        this.#connecting = null;
        throw toEtlError(err, 'connect the admin client');
      }
      return { admin, inFlight: 0, retired: false, used: new Set<string>() };
    })();
    return this.#connecting;
  }

  /** Stops handing `handle` out; it is disconnected when its last call ends. */
  #retire(handle: AdminHandle, current: Promise<AdminHandle> | null): void {
    if (handle.retired) return;
    handle.retired = true;
    this.replacedAdmins += 1;
    if (this.#connecting === current) this.#connecting = null;
    if (handle.inFlight === 0) void handle.admin.disconnect().catch(() => undefined);
    else this.#retired.add(handle);
  }

  /**
   * Whether this admin, not the cluster, is what fails: a topic it has used no longer exists, or the
   * call's own topic does exist although the admin was told it does not (seen on a broker just
   * restarted: the bench's controller failed every read of p2m.jobs for two minutes while a fresh
   * client read it at once). Also true when the cluster's topics cannot be read through it.
   */
  async #poisoned(handle: AdminHandle, topic: string | undefined): Promise<boolean> {
    if (handle.used.size === 0 && topic === undefined) return false;
    const existing = await handle.admin.listTopics().catch(() => null);
    if (existing === null) return true;
    const names = new Set(existing);
    return (topic !== undefined && names.has(topic)) || [...handle.used].some((t) => !names.has(t));
  }

  /** `topic`: the topic the call names, if any. */
  async #call<T>(action: string, fn: (admin: Admin, used: Set<string>) => Promise<T>, topic?: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const current = this.#admin();
      const handle = await current;
      handle.inFlight += 1;
      try {
        const result = await fn(handle.admin, handle.used);
        if (topic !== undefined) handle.used.add(topic);
        return result;
      } catch (err) {
        if (attempt === 1 && !this.#shutDown && kafkaErrorTypes(err).includes('UNKNOWN_TOPIC_OR_PARTITION') && (await this.#poisoned(handle, topic))) {
          this.#retire(handle, current);
          continue;
        }
        throw toEtlError(err, action);
      } finally {
        handle.inFlight -= 1;
        if (handle.retired && handle.inFlight === 0 && this.#retired.delete(handle)) void handle.admin.disconnect().catch(() => undefined);
      }
    }
  }

  async ensureTopic(spec: TopicSpec): Promise<boolean> {
    const wanted = settingsFor(spec);
    // replicationFactor -1: the broker's default.replication.factor.
    const created = await this.#call(
      `create topic ${spec.topic}`,
      (admin) =>
        admin.createTopics({
          waitForLeaders: true,
          topics: [
            { topic: spec.topic, numPartitions: spec.partitions, replicationFactor: -1, configEntries: [...wanted].map(([name, value]) => ({ name, value })) },
          ],
        }),
      spec.topic,
    );
    if (!created) await this.#applyConfig(spec.topic, wanted);
    return created;
  }

  /**
   * The topic's own settings (those set on the topic, not the broker's defaults), by name. A
   * sensitive setting's value is not given by Kafka: `null`.
   */
  async topicConfig(topic: string): Promise<Map<string, string | null>> {
    const described = await this.#call(
      `describe the settings of topic ${topic}`,
      (admin) => admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] }),
      topic,
    );
    const own = new Map<string, string | null>();
    for (const e of described.resources[0]?.configEntries ?? [])
      if (e.configSource === TOPIC_CONFIG_SOURCE) own.set(e.configName, e.isSensitive ? null : e.configValue);
    return own;
  }

  /**
   * Brings an existing topic to the settings p2m makes it with (a topic made by an earlier version
   * lacks the newer ones). Kafka's AlterConfigs, the only form KafkaJS sends, is not incremental: the
   * settings it is given replace all the topic's own settings, and every other one falls back to the
   * broker's default. Raising max.message.bytes alone once turned `p2m.jobs` from compacted into a
   * topic whose job records Kafka deletes after 7 days. So the topic's own settings are read first
   * and written back with the changes. `max.message.bytes` is only ever raised.
   */
  async #applyConfig(topic: string, wanted: Map<string, string>): Promise<void> {
    const own = await this.topicConfig(topic);
    const changes = [...wanted].filter(([name, value]) =>
      name === 'max.message.bytes' ? Number(own.get(name) ?? DEFAULT_MAX_MESSAGE_BYTES) < Number(value) : own.get(name) !== value,
    );
    if (changes.length === 0) return;
    const described = changes.map(([n, v]) => `${n}=${v}`).join(', ');
    const hidden = [...own].filter(([, value]) => value === null).map(([name]) => name);
    if (hidden.length > 0) {
      throw new EtlError(
        'INTERNAL',
        `Kafka: topic "${topic}" needs ${described}, but its sensitive settings (${hidden.join(', ')}) cannot be read back to keep them`,
        {
          retriable: false,
          hint: `set ${described} on the topic with kafka-configs.sh --alter --add-config`,
        },
      );
    }
    const merged = new Map([...own, ...changes]) as Map<string, string>;
    await this.#call(
      `change ${described} on topic ${topic}`,
      (admin) =>
        admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [...merged].map(([name, value]) => ({ name, value })) }],
        }),
      topic,
    );
  }

  /** Deleting a topic that does not exist is not an error. */
  async deleteTopic(topic: string): Promise<void> {
    if (!(await this.topicExists(topic))) return;
    try {
      // KafkaJS drops a topic it deletes from its own metadata requests; so does `used`.
      await this.#call(`delete topic ${topic}`, async (admin, used) => {
        await admin.deleteTopics({ topics: [topic] });
        used.delete(topic);
      });
    } catch (err) {
      if (kafkaErrorTypes((err as EtlError).cause).includes('UNKNOWN_TOPIC_OR_PARTITION')) return;
      throw err;
    }
  }

  topicExists(topic: string): Promise<boolean> {
    return this.#call(`list topics`, async (admin) => (await admin.listTopics()).includes(topic));
  }

  /** Every topic of the cluster (tests use it to prove that a refused job created none). */
  listTopics(): Promise<string[]> {
    return this.#call(`list topics`, (admin) => admin.listTopics());
  }

  topicOffsets(topic: string): Promise<{ partition: number; high: string; low: string }[]> {
    return this.#call(
      `read offsets of ${topic}`,
      async (admin) =>
        (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, high: p.high, low: p.low })).sort((a, b) => a.partition - b.partition),
      topic,
    );
  }

  groupOffsets(group: string, topic: string): Promise<PartitionOffset[]> {
    return this.#call(
      `read offsets of group ${group}`,
      async (admin) => {
        const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        return (entry?.partitions ?? [])
          .map((p) => ({ partition: p.partition, offset: p.offset, metadata: p.metadata ?? null }))
          .sort((a, b) => a.partition - b.partition);
      },
      topic,
    );
  }

  groupMemberCount(group: string): Promise<number> {
    return this.#call(`describe group ${group}`, async (admin) => {
      const { groups } = await admin.describeGroups([group]);
      const g = groups[0];
      return g === undefined || g.state === 'Dead' || g.state === 'Empty' ? 0 : g.members.length;
    });
  }

  async resetGroupOffsets(group: string, topic: string): Promise<void> {
    const members = await this.groupMemberCount(group);
    if (members > 0) {
      throw new EtlError('JOB_STATE', `cannot reset the offsets of consumer group ${group}: ${members} member(s) still consuming`, {
        retriable: false,
        hint: 'stop the loaders of this job first',
      });
    }
    const offsets = await this.topicOffsets(topic);
    if (offsets.length === 0) return;
    // Explicit low watermarks rather than KafkaJS's "earliest" sentinel (-2), which other clients reject.
    await this.#call(
      `reset offsets of group ${group}`,
      (admin) => admin.setOffsets({ groupId: group, topic, partitions: offsets.map((o) => ({ partition: o.partition, offset: o.low })) }),
      topic,
    );
  }

  /** Best effort: removes a throwaway group (readers), ignoring "not found" and "not empty". */
  async deleteGroup(group: string): Promise<void> {
    await this.#call(`delete group ${group}`, (admin) => admin.deleteGroups([group])).catch(() => undefined);
  }

  /** Disconnects; the next call connects again. */
  async close(): Promise<void> {
    const connecting = this.#connecting;
    this.#connecting = null;
    const retired = [...this.#retired];
    this.#retired.clear();
    const handle = await connecting?.catch(() => null);
    await Promise.all([handle, ...retired].flatMap((h) => (h ? [h.admin.disconnect().catch(() => undefined)] : [])));
  }

  /**
   * Disconnects for good: the client is being closed. A call still in flight from a component
   * that stopped without waiting for it (a controller tick measuring a job) would otherwise
   * reconnect after the close, and that connection, which nobody closes, kept a finished
   * `p2m migrate` running.
   */
  async shutDown(): Promise<void> {
    this.#shutDown = true;
    await this.close();
  }
}
