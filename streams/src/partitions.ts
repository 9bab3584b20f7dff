/**
 * Partitions of a durable's key space: the names of the partition durables and which partition an
 * ordering key belongs to. A durable declared with `partitions: P` is P durables `<durable>-p<i>` on
 * the same stream and filter; the owner of partition i handles only the messages whose key falls in
 * partition i (streams/src/partitioned-consumer.ts), so one key has one owner at a time.
 *
 * The hash is 32-bit FNV-1a over the key's UTF-8 bytes. What matters is that every replica, every
 * Node version and every future build computes the same partition for a key (a change of hash would
 * hand a key to two owners during a rolling update): FNV-1a is a fixed, published function with no
 * seed (unlike hash tables' randomised hashes), needs no dependency, and spreads short keys such as
 * `order:WH/MO/00042` well enough for a handful of partitions. It is not a defence against chosen keys,
 * which nobody here has a reason to choose.
 */

import type { ConsumerDeclaration, Declarations } from "./declarations.js";

/**
 * The priority group a partition's owner pulls in, where the server has priority groups (2.11+).
 * Each partition durable is declared `pinned_client`: the server serves one client's pull requests
 * at a time (the pinned one, named by the `Nats-Pin-Id` it gave it) and answers 423 to any other
 * request carrying an older pin. A new owner unpins the durable as it takes the partition, which
 * fences the previous owner at the server: pull requests it left open receive nothing more.
 */
export const PARTITION_OWNER_GROUP = "owner";

/**
 * The declarations as a server gets them: on a server with priority groups every partition durable
 * is pinned to its owner (above); on an older one (the 2.9 floor) they stay plain durables and the
 * KV leases alone make one owner at a time. A partition durable that declares its own priority
 * groups keeps them.
 */
export function pinPartitions(d: Declarations, hasPriorityGroups: boolean): Declarations {
  if (!hasPriorityGroups) return d;
  const consumers: Record<string, ConsumerDeclaration> = {};
  for (const [name, c] of Object.entries(d.consumers))
    consumers[name] =
      c.partitionOf && !c.priorityGroups
        ? { ...c, priorityGroups: { groups: [PARTITION_OWNER_GROUP], policy: "pinned_client" } }
        : c;
  return { ...d, consumers };
}

/** The name of partition `index` of `durable`. */
export function partitionDurable(durable: string, index: number): string {
  return `${durable}-p${index}`;
}

/** The names of the `count` partition durables of `durable`, p0 first. */
export function partitionDurables(durable: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => partitionDurable(durable, i));
}

/** The WorkShares item of partition `index` (a KV-key-safe token). */
export function partitionItem(index: number): string {
  return `p${index}`;
}

const encoder = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes of `key`. */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The partition of a message: its ordering key's, or — a message without a key has no order to keep —
 * its stream sequence's, which every replica also agrees on.
 */
export function partitionOf(key: string | undefined, streamSequence: number, count: number): number {
  return (key === undefined ? streamSequence : fnv1a32(key)) % count;
}
