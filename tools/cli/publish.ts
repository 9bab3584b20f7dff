/**
 * `threadline publish <event-type>`: one event, given as JSON on stdin (the JSON of `contracts encode`,
 * contracts/src/json.ts), published through the SDK's EventPublisher — CloudEvents headers, `ce-id` as
 * the dedup id, PubAck awaited, transient failures retried with the same id.
 *
 * Refused before anything is sent: JSON that does not fit the schema (PAYLOAD_INVALID names each field),
 * and a schema version the registry does not know (REGISTRY_NOT_FOUND): consumers find a writer schema by
 * its fingerprint in the registry, so an unregistered one would reach them as an unknown schema.
 * Exit codes: 0 published (or already stored under that id), 1 refused or failed, 2 usage error.
 */
import { jetstream } from "@nats-io/jetstream";
import { Command, Option } from "commander";
import {
  Catalog,
  EventCodec,
  type EventType,
  fromJson,
  PayloadInvalidError,
  SCHEMAS_DIR,
  SchemaRegistry,
  ThreadlineError,
} from "../../contracts/src/index.js";
import { EventPublisher, type PublishTarget } from "../../streams/src/index.js";
import { action, EXIT, readStdin, UsageError, withNats } from "./run.js";

/** The defaults of `threadline publish`'s options, in one place. */
export const PUBLISH_DEFAULTS = {
  /** The service named in `ce-source`. */
  source: "threadline-cli",
  /** The site of `ce-source` and of the subject, unless $SITE is set. */
  site: "site1",
} as const;

interface PublishFlags {
  server?: string;
  key: string;
  source: string;
  site?: string;
  line?: string;
  machine?: string;
  id?: string;
}

export function publishCommand(): Command {
  return new Command("publish")
    .description(
      "publish one event given as JSON on stdin (the JSON `contracts encode` takes) through the SDK's publisher; prints its id, stream and sequence",
    )
    .argument("<event-type>", "e.g. mfg.production.production_reported.v1")
    .addOption(
      new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)"),
    )
    .requiredOption(
      "--key <key>",
      "ce-subject: the business key (order, lot or machine); ordered consumers serialise by it",
    )
    .option("--source <service>", "the service named in ce-source", PUBLISH_DEFAULTS.source)
    .option(
      "--site <site>",
      `site of ce-source and of the subject (default: $SITE, else ${PUBLISH_DEFAULTS.site})`,
    )
    .option("--line <line>", "line token of the subject")
    .option("--machine <machine>", "machine token of the subject (needs --line)")
    .option(
      "--id <id>",
      "ce-id and dedup id: publishing again with the same id stores the event once (default: a new UUIDv7)",
    )
    .action(
      action(async (eventType: string, opts: PublishFlags) => {
        if (opts.machine !== undefined && opts.line === undefined)
          throw new UsageError(
            "--machine needs --line: the subject is mfg.<domain>.<event>.<site>.<line>.<machine>",
          );
        const codec = new EventCodec({ catalog: Catalog.load(SCHEMAS_DIR) });
        const contract = codec.catalog.find(eventType);
        if (!contract)
          throw new UsageError(
            `unknown event type ${eventType}; \`threadline contracts list --local\` shows the catalog`,
          );
        const text = (await readStdin()).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (e) {
          throw new UsageError(`stdin is not valid JSON: ${(e as Error).message}`);
        }
        const { value, problems } = fromJson(contract.type, json);
        if (problems.length > 0) throw new PayloadInvalidError(eventType, problems);
        const site = opts.site ?? (process.env["SITE"] || PUBLISH_DEFAULTS.site);
        const target: PublishTarget = {
          site,
          key: opts.key,
          ...(opts.line !== undefined ? { line: opts.line } : {}),
          ...(opts.machine !== undefined ? { machine: opts.machine } : {}),
          ...(opts.id !== undefined ? { id: opts.id } : {}),
        };
        return withNats(opts, async (nc) => {
          const registry = await SchemaRegistry.open(nc, { readOnly: true });
          // Registered means a version of this subject, not only the schema text stored by fingerprint.
          if ((await registry.lookup(contract.fingerprint, eventType))?.subject !== eventType)
            throw new ThreadlineError(
              "REGISTRY_NOT_FOUND",
              `${eventType} with fingerprint ${contract.fingerprint} is not registered, so consumers could not read it: run \`threadline contracts register ${eventType}\` first; nothing was published`,
            );
          const publisher = new EventPublisher(jetstream(nc), codec, { service: opts.source, site });
          const published = await publisher.publish(eventType as EventType, value as never, target);
          const { ack, envelope, subject } = published;
          process.stdout.write(
            `${ack.duplicate ? "already stored" : "published"} ${envelope.id} stream=${ack.stream} seq=${ack.seq} subject=${subject}\n`,
          );
          return EXIT.ok;
        });
      }),
    );
}
