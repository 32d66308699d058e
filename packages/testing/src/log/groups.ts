import type { PartitionOffset } from '@p2m/core';
import type { TopicStore } from './topics.ts';

/**
 * Consumer groups of the in-memory log: members, their assignment (partitions dealt round-robin in
 * join order, redone on every join and leave, like Kafka's range/round-robin assignors), and the
 * committed offsets with their metadata.
 */
export interface GroupMember {
  readonly topics: readonly string[];
  /** Called by the group after every rebalance with this member's new partitions. */
  assign(generation: number, assigned: { topic: string; partition: number }[]): void;
}

export const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class ConsumerGroup {
  readonly members: GroupMember[] = [];
  readonly committed = new Map<string, { offset: string; metadata: string | null }>();
  generation = 0;
  readonly #store: TopicStore;

  constructor(store: TopicStore) {
    this.#store = store;
  }

  join(member: GroupMember): void {
    this.members.push(member);
    this.rebalance();
  }

  leave(member: GroupMember): void {
    const i = this.members.indexOf(member);
    if (i < 0) return;
    this.members.splice(i, 1);
    this.rebalance();
  }

  subscribes(topic: string): boolean {
    return this.members.some((m) => m.topics.includes(topic));
  }

  rebalance(): void {
    this.generation++;
    const topics = [...new Set(this.members.flatMap((m) => m.topics))].sort();
    const shares = new Map<GroupMember, { topic: string; partition: number }[]>(this.members.map((m) => [m, []]));
    for (const topic of topics) {
      const subscribers = this.members.filter((m) => m.topics.includes(topic));
      const partitions = this.#store.topics.get(topic)?.partitions.length ?? 0;
      for (let p = 0; p < partitions; p++) shares.get(subscribers[p % subscribers.length]!)!.push({ topic, partition: p });
    }
    for (const [member, assigned] of shares) member.assign(this.generation, assigned);
  }

  commit(topic: string, offsets: PartitionOffset[]): void {
    for (const o of offsets) this.committed.set(tp(topic, o.partition), { offset: o.offset, metadata: o.metadata ?? null });
  }

  /** Where a member starts reading a partition: the committed offset, else the start or the end. */
  startOffset(topic: string, partition: number, fromBeginning: boolean): number {
    const c = this.committed.get(tp(topic, partition));
    if (c && Number(c.offset) >= 0) return Number(c.offset);
    return fromBeginning ? 0 : this.#store.high(topic, partition);
  }
}
