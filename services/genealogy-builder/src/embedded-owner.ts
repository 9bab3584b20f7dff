/**
 * The embedded database (PGlite) holds the graph of one process. Two replicas on embedded databases
 * sharing the durables would each get part of the events, and each graph would miss what the other
 * applied — silently. So a replica on the embedded database owns the lease `embedded.<schema>` before
 * it consumes anything: a second one is refused at start (GENEALOGY_EMBEDDED_TAKEN: several replicas
 * need a PostgreSQL server through DATABASE_URL), and one that lost the lease (paused past its ttl,
 * cut from NATS) gives every event back to the stream instead of writing it where nobody reads it.
 * On a server the replicas write one graph: no lease.
 */
import type { KV } from "@nats-io/kv";
import type { Registry } from "prom-client";
import { Lease, type Logger, RetryableError } from "../../../streams/src/index.js";
import { GenealogyError } from "./errors.js";

export interface EmbeddedOwnerOptions {
  /** The bucket of the builder's leases (its manifest's GENEALOGY_LEASES_BUCKET). */
  readonly kv: KV;
  /** The graph's schema: two builders on different schemas are different graphs. */
  readonly schema: string;
  /** This replica: pod name and pid. */
  readonly holder: string;
  /** The lease's ttl (GENEALOGY_LEASE_TTL_MS). */
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly registry: Registry;
}

/** The lease of the embedded graph, held; call `stop()` after the last write. */
export interface EmbeddedOwner {
  /** Throws a retryable GENEALOGY_EMBEDDED_TAKEN when this replica no longer owns the graph. */
  assertOwner(): void;
  /** For `/readyz`: false once the lease is lost. */
  owns(): boolean;
  /**
   * Resolves once this replica owns the graph again — at once when it still does. Opening the embedded
   * database blocks the event loop (seconds on a busy machine), long enough for the lease to lapse
   * unrenewed; the lease then takes its own entry back on its next look (lease.ts), and the consumers
   * start only after that instead of giving every event back.
   * @throws GenealogyError GENEALOGY_EMBEDDED_TAKEN when another replica took it meanwhile
   */
  regained(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Takes the lease, waiting as long as a predecessor that died without releasing it can keep it (its
 * ttl and two looks).
 * @throws GenealogyError GENEALOGY_EMBEDDED_TAKEN when another live replica holds it
 */
export async function ownEmbeddedGraph(options: EmbeddedOwnerOptions): Promise<EmbeddedOwner> {
  const { kv, schema, holder, ttlMs, logger, registry } = options;
  const key = `embedded.${schema}`;
  const lease = new Lease({ kv, key, holder, ttlMs, logger, registry });
  const waitMs = ttlMs + 2 * lease.renewEveryMs;
  /** Whether the lease is acquired within `waitMs` (its ttl and two looks). */
  const acquiredInTime = () =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), waitMs);
      lease.once("acquired", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  const first = acquiredInTime();
  lease.start();
  const acquired = await first;
  const taken = async () => {
    await lease.stop();
    const entry = await kv.get(key).catch(() => null);
    const other = entry?.operation === "PUT" ? (entry.json() as { holder?: string }).holder : undefined;
    return new GenealogyError(
      "GENEALOGY_EMBEDDED_TAKEN",
      `${other ?? "another replica"} keeps the graph ${schema} in its embedded database: a second replica would split the events between two graphs. Run several replicas on one PostgreSQL server (DATABASE_URL), or stop the other one`,
    );
  };
  if (!acquired) throw await taken();
  lease.on("lost", (reason) => {
    if (reason !== "released")
      logger.error({ reason }, "the embedded graph's lease is lost: events go back to the stream unwritten");
  });
  return {
    assertOwner() {
      if (!lease.isOwner())
        throw new RetryableError(
          "GENEALOGY_EMBEDDED_TAKEN",
          `this replica no longer owns the embedded graph ${schema}: the event is left to the replica that does`,
        );
    },
    owns: () => lease.isOwner(),
    async regained() {
      if (lease.isOwner()) return;
      if (!(await acquiredInTime())) throw await taken();
      logger.info("the embedded graph's lease was taken back after the database opened");
    },
    stop: () => lease.stop(),
  };
}
