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
import { fileURLToPath } from "node:url";
import {
  type ConsumedEvent,
  type Database,
  openDatabase,
  type RunningService,
  runService,
  startOrExit,
} from "../../../streams/src/index.js";
import { GenealogyConfig } from "./config.js";
import { epcisDocument } from "./epcis.js";
import { registerGenealogyRoutes } from "./http.js";
import { GENEALOGY_SOURCES, genealogyBuilderManifest } from "./manifest.js";
import { genealogyMetrics } from "./metrics.js";
import { GenealogyQueries } from "./query/queries.js";
import { type RebuildReport, rebuildGraph } from "./rebuild.js";
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
      const db: Database = await openDatabase({
        url: config.DATABASE_URL,
        dataDir: config.GENEALOGY_DATA_DIR,
        owner: "genealogy-builder",
        poolSize: config.DATABASE_POOL_SIZE,
      });
      const applied = await migrate(db, schema).catch(async (err) => {
        await db.close().catch(() => undefined);
        throw err;
      });
      logger.info({ database: db.where, schema, migrationsApplied: applied }, "genealogy database ready");
      const metrics = genealogyMetrics(registry);
      const writer = new ProjectionWriter(db, schema, {
        maxBatch: config.GENEALOGY_BATCH,
        onBatch: (fresh, duplicates, ms) => metrics.batch(fresh, duplicates, ms),
      });
      // One rebuild at a time: a second ask joins the running one.
      let rebuilding: Promise<RebuildReport> | undefined;
      ready = {
        queries: new GenealogyQueries(db, schema),
        rebuild: () => {
          rebuilding ??= rebuildGraph({ db, nc, codec, schema, logger }).finally(() => {
            rebuilding = undefined;
          });
          return rebuilding;
        },
      };
      const project = (e: ConsumedEvent<unknown>) =>
        writer.write({ id: e.id, stream: e.stream, seq: e.streamSequence, type: e.type, value: e.value });
      const handlers = Object.fromEntries(GENEALOGY_EVENT_TYPES.map((t) => [t, project]));
      return {
        consumers: GENEALOGY_SOURCES.map((s) => ({
          stream: s.stream,
          durable: s.durable,
          // Order does not matter to the projection: wide, so batches fill.
          concurrency: 256,
          handlers,
        })),
        onStop: async () => {
          await writer.drain();
          await rebuilding?.catch(() => undefined);
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
