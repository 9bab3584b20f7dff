/**
 * The files of a new service, as text: its manifest, its main module, its test and its README. The
 * service they make is small but complete — one durable reading production reports, one KV bucket of
 * totals per key updated once per event id — so a team starts from something that builds, passes its
 * test and runs, and replaces the business logic.
 *
 * The text is what Biome would write for any valid name (lines stay under biome.json's 110 columns for
 * names up to MAX_NAME_LENGTH), so the generated files are lint-clean; test/docs/subscribing.test.ts
 * compiles, lints, tests and runs them, and docs/subscribing.md quotes them.
 */
import type { ServiceNames } from "./names.js";

/** One file to write, relative to the repository root. */
export interface TemplateFile {
  readonly path: string;
  readonly text: string;
}

/** The files of a new service, in the order they are listed to the user. */
export function serviceFiles(n: ServiceNames): TemplateFile[] {
  return [
    { path: `services/${n.service}/src/manifest.ts`, text: manifestTs(n) },
    { path: `services/${n.service}/src/main.ts`, text: mainTs(n) },
    { path: `services/${n.service}/README.md`, text: readme(n) },
    { path: `test/${n.service}/service.test.ts`, text: testTs(n) },
  ];
}

function manifestTs(n: ServiceNames): string {
  return `/**
 * What ${n.service} declares about itself (streams/src/manifest.ts): the durable it reads production
 * reports with and the KV bucket it keeps its totals in. \`threadline streams plan|apply|k8s\` create
 * them and \`threadline streams permissions ${n.service}\` derives its NATS user from them
 * (tools/manifests.ts lists this manifest). Names are spelled here once; main.ts uses the constants.
 */
import { serviceManifest } from "../../../streams/src/index.js";

/** The durable on MFG_PRODUCTION (a durable's name starts with its service's). */
export const REPORTS_DURABLE = "${n.durable}";
/** The bucket of totals per key. */
export const TOTALS_BUCKET = "${n.bucket}";

export const ${n.manifestExport} = serviceManifest({
  service: "${n.service}",
  description: "${n.service}: good and reject totals per machine from production reports",
  consumers: {
    [REPORTS_DURABLE]: {
      stream: "MFG_PRODUCTION",
      description: "${n.service}: production reports -> totals per machine",
      filterSubjects: ["mfg.production.production_reported.>"],
      // ackWait is the first backoff step (the server replaces one by the other).
      ackWait: "30s",
      backoff: ["30s", "2m", "10m"],
      maxDeliver: 6,
      maxAckPending: 256,
    },
  },
  kv: {
    [TOTALS_BUCKET]: {
      description: "${n.service}: good and reject totals per report key (the machine)",
      history: 5,
      storage: "file",
    },
  },
});
`;
}

function mainTs(n: ServiceNames): string {
  return `/**
 * ${n.service}: keeps good and reject totals per machine from production reports, in a KV bucket.
 * Run it: \`NATS_URL=nats://… node dist/services/${n.service}/src/main.js\` (README.md).
 *
 * Delivery is at-least-once: a redelivery or an ops replay brings an event again. Each record keeps the
 * ids of the events it applied and is written by compare-and-set, so an event is counted once.
 */
import { fileURLToPath } from "node:url";
import { type KV, Kvm } from "@nats-io/kv";
import { formatDecimal, parseDecimal } from "../../../contracts/src/index.js";
import { PermanentError, type RunningService, runService, startOrExit } from "../../../streams/src/index.js";
import { ${n.manifestExport}, REPORTS_DURABLE, TOTALS_BUCKET } from "./manifest.js";

/** The record kept per report key (JSON in the bucket). */
export interface Totals {
  /** The reports' ce-subject: the machine bridge keys its reports by machine. */
  key: string;
  /** Exact decimals at the events' scale, as strings. */
  good: string;
  reject: string;
  uom: string;
  reports: number;
  /** Ids of the last events applied: a redelivery or a replay is recognised and skipped. */
  applied: string[];
}

const SCALE = 6;
const KEEP_IDS = 1000;

/** Adds two decimal strings exactly (contracts' decimal helpers, never floats). */
function add(a: string, b: string): string {
  const units = (text: string) => {
    const u = parseDecimal(text, SCALE, 38);
    if (u === undefined)
      throw new PermanentError("BAD_DECIMAL", \`\${text} is not a decimal of scale \${SCALE}\`);
    return u;
  };
  return formatDecimal(units(a) + units(b), SCALE);
}

/** A KV key for a report key: characters KV keys do not allow become _. */
export const totalsKey = (key: string) => key.replace(/[^-/_=.a-zA-Z0-9]/g, "_");

/**
 * Adds one report to its key's totals, once per event id. A concurrent writer (another replica) makes
 * the compare-and-set fail; the error is transient, so the consumer retries the event, which reads again.
 */
async function addReport(
  kv: KV,
  key: string,
  eventId: string,
  good: { value: string; uom: string },
  reject: { value: string; uom: string },
): Promise<boolean> {
  const entry = await kv.get(totalsKey(key));
  const totals: Totals =
    entry?.operation === "PUT"
      ? entry.json<Totals>()
      : { key, good: "0", reject: "0", uom: good.uom, reports: 0, applied: [] };
  if (totals.applied.includes(eventId)) return false;
  if (good.uom !== totals.uom || reject.uom !== totals.uom)
    // Retrying cannot fix a report in another unit: dead-letter it with a reason ops can read.
    throw new PermanentError(
      "UOM_MISMATCH",
      \`\${key} counts in \${totals.uom}, the report in \${good.uom}/\${reject.uom}\`,
    );
  totals.good = add(totals.good, good.value);
  totals.reject = add(totals.reject, reject.value);
  totals.reports += 1;
  totals.applied = [...totals.applied, eventId].slice(-KEEP_IDS);
  if (entry) await kv.update(totalsKey(key), JSON.stringify(totals), entry.revision);
  else await kv.create(totalsKey(key), JSON.stringify(totals));
  return true;
}

export function startService(env: Record<string, string | undefined> = process.env): Promise<RunningService> {
  return runService({
    manifest: ${n.manifestExport},
    env,
    setup: async ({ nc }) => {
      // Declared in the manifest and created by \`threadline streams apply\`: opened, never created here.
      const kv = await new Kvm(nc).open(TOTALS_BUCKET);
      return {
        consumers: [
          {
            stream: "MFG_PRODUCTION",
            durable: REPORTS_DURABLE,
            // One key's reports (ce-subject: the bridge's machine) one at a time, in stream order.
            ordered: true,
            concurrency: 8,
            handlers: {
              "mfg.production.production_reported.v1": async (event, ctx) => {
                const r = event.value;
                const applied = await addReport(kv, event.key, event.id, r.goodQuantity, r.rejectQuantity);
                ctx.logger.info({ applied, good: r.goodQuantity.value }, "report applied");
              },
            },
          },
        ],
      };
    },
  });
}

// Started as a program: the running service, or one JSON log line saying why it cannot start (exit 1).
if (process.argv[1] === fileURLToPath(import.meta.url))
  await startOrExit(${n.manifestExport}.service, () => startService());
`;
}

function testTs(n: ServiceNames): string {
  return `/**
 * ${n.service} - production reports become totals per machine, each event counted once, against a
 * real nats-server (test/harness) with the platform's declarations applied.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { EventCodec } from "../../contracts/src/index.js";
import { startService, type Totals, totalsKey } from "../../services/${n.service}/src/main.js";
import { TOTALS_BUCKET } from "../../services/${n.service}/src/manifest.js";
import { applyPlan, EventPublisher, planChanges, serverFacts } from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const machine = "plant1/line1/filler1";
const units = (value: string) => ({ value, uom: "Units" });

test("${n.service} adds each production report to its machine's totals once, a replayed one included", async (t) => {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  const plan = await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc));
  await applyPlan(jsm, plan, { force: false });

  const service = await startService({
    NATS_URL: server.clientUrl,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
  });
  t.after(() => service.stop());
  assert.equal((await fetch(\`\${service.url}/readyz\`)).status, 200);

  const publisher = new EventPublisher(jetstream(nc), new EventCodec(), { service: "test", site: "plant1" });
  const report = (good: string, reject: string) =>
    publisher.publish(
      "mfg.production.production_reported.v1",
      {
        equipment: { site: "plant1", area: null, line: "line1", cell: null, machine: "filler1" },
        orderRef: "WH/MO/00042",
        lot: null,
        goodQuantity: units(good),
        rejectQuantity: units(reject),
        goodCounterFrom: 0n,
        goodCounterTo: 10n,
        rejectCounterFrom: 0n,
        rejectCounterTo: 1n,
        periodStartAt: new Date(),
        reportedAt: new Date(),
        countingPoint: true,
        rejectedComponent: null,
        running: [],
      },
      { site: "plant1", line: "line1", machine: "filler1", key: machine },
    );
  const first = await report("10", "1");
  await report("4.5", "0");
  // The first event again under a new stream sequence, as an ops replay sends it: counted once.
  const stored = await jsm.streams.getMessage("MFG_PRODUCTION", { seq: first.ack.seq });
  assert.ok(stored);
  stored.header.set("Nats-Msg-Id", \`replay-\${first.envelope.id}\`);
  const replay = await jetstream(nc).publish(first.subject, stored.data, { headers: stored.header });

  const kv = await new Kvm(nc).open(TOTALS_BUCKET);
  await until("the replay handled", async () => {
    const info = await jsm.consumers.info("MFG_PRODUCTION", "${n.durable}");
    return info.ack_floor.stream_seq >= replay.seq ? true : undefined;
  });
  const totals = (await kv.get(totalsKey(machine)))?.json<Totals>();
  assert.equal(totals?.good, "14.500000");
  assert.equal(totals?.reject, "1.000000");
  assert.equal(totals?.reports, 2);
  await service.stop();
});
`;
}

function readme(n: ServiceNames): string {
  return `# ${n.service}

Keeps good and reject totals per machine from production reports
(\`mfg.production.production_reported.v1\`), in the KV bucket \`${n.bucket}\` (key: the report's
\`ce-subject\`, the machine). Generated by \`threadline new service ${n.service}\`: replace the business
logic in \`src/main.ts\` and what it declares in \`src/manifest.ts\`.

| file | what it is |
|---|---|
| \`src/manifest.ts\` | its durable \`${n.durable}\` on \`MFG_PRODUCTION\`, its bucket, the events it publishes (none yet) |
| \`src/main.ts\` | the handler and \`runService\` (config, NATS, health, metrics, SIGTERM drain) |
| \`../../test/${n.service}/service.test.ts\` | its test against a real nats-server |

## Build and test

From the repository root:

\`\`\`sh
npx tsc -p .
node --test dist/test/${n.service}/*.test.js
\`\`\`

The test starts its own nats-server (test/harness; \`THREADLINE_NATS_SERVER\` names the binary).

## Run

Declare its durable and bucket on the server once (with every other declaration), register the
schemas, then start it:

\`\`\`sh
npx threadline streams apply
npx threadline contracts register
node dist/services/${n.service}/src/main.js
\`\`\`

It logs \`service running\` when it consumes, answers \`/readyz\` with 200, and drains on SIGTERM.
Try it with \`npx threadline publish mfg.production.production_reported.v1 --key <machine> < report.json\`.

## Configure

Environment variables (or a YAML/JSON file named by \`THREADLINE_CONFIG\`), checked at start:

| variable | default | meaning |
|---|---|---|
| \`NATS_URL\` | \`nats://127.0.0.1:4222\` | servers, comma-separated |
| \`NATS_CREDS\` / \`NATS_USER\`+\`NATS_PASSWORD\` / \`NATS_TOKEN\` | — | credentials (never logged) |
| \`SITE\` | \`site1\` | site in \`ce-source\` of what it publishes |
| \`HTTP_HOST\`, \`HTTP_PORT\` | \`0.0.0.0\`, \`9464\` | \`/healthz\`, \`/readyz\`, \`/metrics\` |
| \`LOG_LEVEL\` | \`info\` | pino level |
| \`DRAIN_TIMEOUT_MS\` | \`25000\` | SIGTERM drain deadline |

Its least-privilege NATS user: \`npx threadline streams permissions ${n.service}\`.
`;
}
