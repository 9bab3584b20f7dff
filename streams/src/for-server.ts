/**
 * The declarations as a server of a given version gets them: what `streams plan` creates, what
 * `streams k8s` renders and what `replay rewind` recreates, so the three never disagree.
 * - Partition durables are pinned to their owner where the server has priority groups (2.11+,
 *   partitions.ts `pinPartitions`).
 * - A durable with several filter subjects and a `floorFilterSubject` gets that one filter on a server
 *   without multiple filter subjects (before 2.10).
 */
import type { ConsumerDeclaration, Declarations } from "./declarations.js";
import { pinPartitions } from "./partitions.js";
import { type ServerVersion, serverHas } from "./server-features.js";

export function forServer(d: Declarations, version: ServerVersion | string): Declarations {
  const pinned = pinPartitions(d, serverHas(version, "priorityGroups"));
  if (serverHas(version, "multipleFilterSubjects")) return pinned;
  const consumers: Record<string, ConsumerDeclaration> = {};
  for (const [name, c] of Object.entries(pinned.consumers)) {
    const { floorFilterSubject, ...rest } = c;
    consumers[name] =
      floorFilterSubject === undefined ? c : { ...rest, filterSubjects: [floorFilterSubject] };
  }
  return { ...pinned, consumers };
}
