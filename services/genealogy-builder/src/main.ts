/**
 * The genealogy builder: one lot graph from the events of every system (store/projection.ts), in
 * PostgreSQL or the embedded PGlite, asked through its HTTP API (http.ts) and `threadline genealogy`.
 * Run it: `NATS_URL=nats://… GENEALOGY_API_TOKEN=… [DATABASE_URL=postgres://…] node
 * dist/services/genealogy-builder/src/main.js` (README.md).
 *
 * Delivery is at-least-once and a replay brings old events again: the projection applies each event
 * id once and is indifferent to order, so neither changes the graph. Events are written in batches
 * (store/writer.ts); one the database refuses is dead-lettered alone; a database that does not answer
 * makes the events wait in their streams (redelivered with backoff) and the queries answer 503.
 */
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { Kvm } from "@nats-io/kv";
import {
  type ConsumedEvent,
  type Database,
  openDatabase,
  type RunningService,
  runService,
  startOrExit,
} from "../../../streams/src/index.js";
import { GenealogyConfig } from "./config.js";
import { type EmbeddedOwner, ownEmbeddedGraph } from "./embedded-owner.js";
import { epcisDocument } from "./epcis.js";
import { registerGenealogyRoutes } from "./http.js";
import { GENEALOGY_LEASES_BUCKET, GENEALOGY_SOURCES, genealogyBuilderManifest } from "./manifest.js";
import { genealogyMetrics } from "./metrics.js";
import { GenealogyQueries } from "./query/queries.js";
import { type RebuildReport, rebuildAlone } from "./rebuild.js";
import { GENEALOGY_EVENT_TYPES } from "./store/projection.js";
import { migrate } from "./store/schema.js";
import { ProjectionWriter } from "./store/writer.js";

/** What the routes reach once setup has opened the database (undefined before: they answer 503). */
interface Ready {
  readonly queries: GenealogyQueries;
  rebuild(): Promise<RebuildReport>;
}

export function startService(env: Record<string, string | undefined> = process.env): Promise<RunningService> {
  let ready: Ready | undefined;
  return runService({
    manifest: genealogyBuilderManifest,
    configSchema: GenealogyConfig,
    env,
    routes: (app, { config }) =>
      registerGenealogyRoutes(app, {
        token: config.GENEALOGY_API_TOKEN,
        queries: () => ready?.queries,
        rebuild: () => {
          if (!ready) throw new Error("the genealogy builder is starting");
          return ready.rebuild();
        },
        epcis: async (root) => {
          if (!ready) throw new Error("the genealogy builder is starting");
          const [backward, forward] = await Promise.all([
            ready.queries.trace(root, { direction: "backward" }),
            ready.queries.trace(root, { direction: "forward" }),
          ]);
          return epcisDocument(backward, forward);
        },
      }),
    setup: async ({ config, logger, nc, codec, metrics: registry }) => {
      const schema = config.GENEALOGY_SCHEMA;
      // The embedded graph is one process's: owned before the database is even opened, so a refused
      // replica touches neither its data directory nor the durables (embedded-owner.ts).
      const owner: EmbeddedOwner | undefined = config.DATABASE_URL
        ? undefined
        : await ownEmbeddedGraph({
            kv: await new Kvm(nc).open(GENEALOGY_LEASES_BUCKET),
            schema,
            // Unique per process: a copy restarted after a crash waits out its predecessor's ttl.
            holder: `${env["HOSTNAME"] || hostname()}:${process.pid}`,
            ttlMs: config.GENEALOGY_LEASE_TTL_MS,
            logger,
            registry,
          });
      const db: Database = await openDatabase({
        url: config.DATABASE_URL,
        dataDir: config.GENEALOGY_DATA_DIR,
        owner: "genealogy-builder",
        poolSize: config.DATABASE_POOL_SIZE,
      }).catch(async (err) => {
        await owner?.stop();
        throw err;
      });
      const applied = await migrate(db, schema).catch(async (err) => {
        await db.close().catch(() => undefined);
        await owner?.stop();
        throw err;
      });
      logger.info({ database: db.where, schema, migrationsApplied: applied }, "genealogy database ready");
      await owner?.regained().catch(async (err) => {
        await db.close().catch(() => undefined);
        throw err;
      });
      const metrics = genealogyMetrics(registry);
      const writer = new ProjectionWriter(db, schema, {
        maxBatch: config.GENEALOGY_BATCH,
        onBatch: (fresh, duplicates, ms) => metrics.batch(fresh, duplicates, ms),
      });
      // One rebuild at a time: a second ask joins the running one here, and is refused while another
      // replica rebuilds (rebuildAlone).
      let rebuilding: Promise<RebuildReport> | undefined;
      ready = {
        queries: new GenealogyQueries(db, schema),
        rebuild: () => {
          rebuilding ??= rebuildAlone({ db, nc, codec, schema, logger }).finally(() => {
            rebuilding = undefined;
          });
          return rebuilding;
        },
      };
      const project = async (e: ConsumedEvent<unknown>) => {
        owner?.assertOwner();
        await writer.write({
          id: e.id,
          stream: e.stream,
          seq: e.streamSequence,
          type: e.type,
          value: e.value,
        });
        // Lost while writing: acknowledged, the event would be in no graph anyone reads.
        owner?.assertOwner();
      };
      const handlers = Object.fromEntries(GENEALOGY_EVENT_TYPES.map((t) => [t, project]));
      return {
        consumers: GENEALOGY_SOURCES.map((s) => ({
          stream: s.stream,
          durable: s.durable,
          // Order does not matter to the projection: wide, so batches fill.
          concurrency: 256,
          handlers,
        })),
        ...(owner
          ? {
              checks: [
                {
                  name: "embedded-graph",
                  check: () =>
                    owner?.owns()
                      ? { ok: true }
                      : { ok: false, reason: "another replica owns the embedded graph" },
                },
              ],
            }
          : {}),
        onStop: async () => {
          await writer.drain();
          await rebuilding?.catch(() => undefined);
          await owner?.stop();
          ready = undefined;
          await db.close();
        },
      };
    },
  });
}

// Started as a program: the running service, or one JSON log line saying why it cannot start (exit 1).
if (process.argv[1] === fileURLToPath(import.meta.url))
  await startOrExit(genealogyBuilderManifest.service, () => startService());
