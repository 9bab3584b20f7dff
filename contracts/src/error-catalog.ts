/**
 * The one catalogue of Threadline's error codes: every `ThreadlineError.code`, every dead-letter reason
 * (`Threadline-Dlq-Code`), every code a tool exits with. Each entry says where the code comes from
 * (`area`), what happened (`meaning`) and what to do next (`action`), one sentence each.
 * `docs/errors.md` is rendered from it (`threadline errors --markdown`), and
 * test/contracts/error-catalog.test.ts fails when the page or a code in the sources is not in it.
 *
 * Prefixes: `ODOO_<NAME>` means Odoo said so — the exception Odoo (or the HTTP server at its URL)
 * answered, named after its Python class (`odoo.exceptions.ValidationError` → `ODOO_VALIDATION_ERROR`,
 * see {@link odooExceptionCode}). Odoo's exceptions are open-ended, so `ODOO_${string}` is a code too
 * ({@link OdooErrorCode}); the known ones are listed, the rest is explained by {@link ODOO_PATTERN}.
 * `CONNECTOR_<…>` is the Odoo connector's own judgement (an order it cannot find, a breaker it opened).
 *
 * Codes are stable: never rename or reuse one without saying so in the changelog; a retired code's entry
 * is deleted with the last code that raises it.
 */

/** Where a code comes from: the package, service or tool that raises it (one table each in docs/errors.md). */
export const ERROR_AREAS = {
  contracts: "Contracts: schemas, the Avro codec, the schema registry",
  streams: "Streams: envelopes, connections, declarations, permissions, dead letters",
  "sdk-consumer": "SDK consumer: the consumer's own failures and dead-letter reasons",
  "sdk-publisher": "SDK publisher",
  config: "Configuration (environment, config files, options, CLI flags)",
  odoo: "Odoo's own exceptions (ODOO_)",
  "odoo-connector": "Odoo connector (CONNECTOR_)",
  orchestrator: "Production orchestrator (ORCHESTRATOR_)",
  console: "Ops console: sign-in, sessions, the console's API (CONSOLE_)",
  genealogy: "Genealogy builder: the lot graph, its queries and exports (GENEALOGY_)",
  quality: "Quality service: statistical process control and its offline evaluation (QUALITY_)",
  simulators: "Simulators (OPC UA plant)",
  "local-nats": "Local nats-server (tests, demo, bench)",
  cli: "The threadline command line",
  units: "Units of measure: the SDK's exact conversion (streams/src/units)",
  examples: "SDK examples (streams/examples)",
} as const;
export type ErrorArea = keyof typeof ERROR_AREAS;

/** One catalogued code: where it comes from, what happened, what to do next. */
export interface ErrorCatalogEntry {
  readonly area: ErrorArea;
  /** What happened, one sentence. */
  readonly meaning: string;
  /** What the operator or developer does next, one sentence: a runbook line. */
  readonly action: string;
}

const REPLAY = "then replay the event from the dead-letter stream MFG_DLQ";

export const ERROR_CATALOG = {
  // --- contracts -------------------------------------------------------------------------------
  SCHEMA_INVALID: {
    area: "contracts",
    meaning:
      "A schema file or text is not a valid Avro schema for Threadline (bad JSON, bad name, not a record, a duplicate event type).",
    action: "Fix the .avsc file the message names and run `threadline contracts check`.",
  },
  PAYLOAD_INVALID: {
    area: "contracts",
    meaning:
      "A payload does not fit its event's schema, so nothing was encoded or sent; the message lists each field.",
    action: "Fix the producer's mapping for the fields listed (path, expected type, value found).",
  },
  NOT_SINGLE_OBJECT: {
    area: "contracts",
    meaning:
      "The bytes are shorter than the 10-byte Avro single-object header: not a Threadline event (dead-letter reason).",
    action:
      "Find what else publishes on the subject (the dead letter keeps its headers) and stop it, or move it to its own subject.",
  },
  BAD_MARKER: {
    area: "contracts",
    meaning:
      "The bytes do not start with the Avro single-object marker C3 01: not a Threadline event (dead-letter reason).",
    action:
      "Find the publisher of the message (dead-letter headers: subject, ce-source) and make it use the Threadline codec.",
  },
  TRUNCATED_BODY: {
    area: "contracts",
    meaning:
      "The Avro body ends before the writer schema's record does: truncated or corrupt bytes (dead-letter reason).",
    action:
      "Compare the producer's schema with the registered one for that fingerprint, and republish the event from its source.",
  },
  TRAILING_BYTES: {
    area: "contracts",
    meaning:
      "The Avro body has bytes left after the writer schema's record: written with another schema or corrupt (dead-letter reason).",
    action:
      "Check that the producer registers the schema it writes with (`threadline contracts register`), then republish from the source.",
  },
  CORRUPT_BODY: {
    area: "contracts",
    meaning:
      "The Avro body reads, but holds an invalid value (e.g. an enum index out of range) (dead-letter reason).",
    action:
      "Check the producer's codec and schema version against the registry, then republish the event from its source.",
  },
  UNKNOWN_FINGERPRINT: {
    area: "contracts",
    meaning:
      "No schema with the event's writer fingerprint is in the registry or the local catalog (dead-letter reason).",
    action:
      "Register the producer's schema (`threadline contracts register`), then redrive the dead letters.",
  },
  UNKNOWN_EVENT_TYPE: {
    area: "contracts",
    meaning: "The event type is not defined in the catalog.",
    action:
      "Check the spelling against `threadline contracts list`, or add the contract to contracts/schemas.",
  },
  SCHEMA_UNRESOLVABLE: {
    area: "contracts",
    meaning:
      "The writer schema cannot be read with the reader's schema: the two are not compatible (dead-letter reason).",
    action:
      "Deploy a reader built with a compatible schema version (`threadline contracts check`), then redrive the dead letters.",
  },
  SCHEMA_INCOMPATIBLE: {
    area: "contracts",
    meaning:
      "The registry refused a schema that breaks the subject's compatibility mode; the report names each field and rule.",
    action:
      "Make the change compatible (defaults, optional fields) or publish it as a new major version of the event.",
  },
  REGISTRY_CONFLICT: {
    area: "contracts",
    meaning:
      "The registry's state does not allow the change: a fingerprint collision, a missing schema text, or too many concurrent updates.",
    action:
      "Retry once for concurrent updates; otherwise give the field a new name or type as the message says, or repair the registry bucket.",
  },
  REGISTRY_NOT_FOUND: {
    area: "contracts",
    meaning: "The subject, version or schema is not in the registry, or the registry bucket does not exist.",
    action:
      "Create the bucket with `threadline streams apply` and register the schema with `threadline contracts register`.",
  },
  REGISTRY_READ_ONLY: {
    area: "contracts",
    meaning: "A write was attempted on a schema registry opened read-only (services only read it).",
    action: "Register schemas with `threadline contracts register`, not from a service.",
  },

  // --- streams ---------------------------------------------------------------------------------
  ENVELOPE_INVALID: {
    area: "streams",
    meaning:
      "A message's CloudEvents headers are missing or malformed, or a subject token is invalid (dead-letter reason when consumed).",
    action:
      "Find the publisher (dead-letter subject and headers) and make it publish through the SDK publisher.",
  },
  NATS_UNREACHABLE: {
    area: "streams",
    meaning: "No NATS server answered at the configured URL(s).",
    action: "Check NATS_URL / --server, that nats-server runs, and that this host may reach its client port.",
  },
  NATS_AUTH_REFUSED: {
    area: "streams",
    meaning:
      "A NATS server answered but refused the credentials (NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS), or they expired.",
    action:
      "Check the credentials the service is given against the server's users (`threadline streams permissions <service>` renders them).",
  },
  NATS_TLS_UNAVAILABLE: {
    area: "streams",
    meaning:
      "NATS_URL asks for TLS (tls://) but the server does not offer it, so the connection was refused rather than made in plain text.",
    action:
      "Enable TLS on the server (a `tls { }` block), or use nats:// if plain text on this network is intended.",
  },
  LEASE_FENCED: {
    area: "streams",
    meaning:
      "A replica wrote owned state (a sync cursor, an endpoint's position) after another replica had taken over its lease, so the write was refused and nothing it decided late was kept.",
    action:
      "Nothing to repair: the new owner carries on from the state it claimed; if it repeats, look for replicas paused or cut from NATS for longer than the lease's ttl (their logs say 'lease lost' with the reason).",
  },
  SERVICE_SETUP_FAILED: {
    area: "streams",
    meaning:
      "A service's own setup threw an error without a code of its own while starting (a file, a bucket or a peer it opens), so the service did not start.",
    action:
      "Read the message for what setup could not do and fix that; LOG_LEVEL=debug adds the stack to the log line.",
  },
  SERVICE_START_FAILED: {
    area: "streams",
    meaning:
      "A service failed to start with an unexpected error that carries no code (a defect, not a setting), and exited.",
    action: "Run it again with LOG_LEVEL=debug to log the stack, and report it with that line.",
  },
  PERMISSIONS_INVALID: {
    area: "streams",
    meaning:
      "A service's access description names streams, consumers or buckets that are not declared, or is malformed.",
    action: "Fix the service manifest's access list (each problem names its key) or declare what it names.",
  },
  DECLARATION_INVALID: {
    area: "streams",
    meaning: "The stream, consumer or bucket declarations are wrong, so nothing was planned or applied.",
    action: "Fix each key the message lists in streams/src/declarations.ts or the service's manifest.",
  },
  STREAMS_FEATURE_UNSUPPORTED: {
    area: "streams",
    meaning:
      "The declarations use a feature the connected nats-server is too old for; nothing was planned or applied.",
    action: "Upgrade nats-server to the version named, or remove the feature from the declaration.",
  },
  STREAMS_REPLICAS_UNAVAILABLE: {
    area: "streams",
    meaning:
      "More than one replica is declared but the server is a single node; nothing was planned or applied.",
    action: "Run against the cluster, or use `--replicas 1` / `--profile local` against a single server.",
  },
  STREAMS_DESTRUCTIVE_REFUSED: {
    area: "streams",
    meaning:
      "`streams apply` met destructive changes (deletes, recreates) without --force; nothing was changed.",
    action:
      "Review them with `threadline streams plan`, then run `threadline streams apply --force` if they are intended.",
  },
  STREAMS_APPLY_FAILED: {
    area: "streams",
    meaning:
      "The server refused one change in the middle of an apply; the changes before it were applied, the rest not.",
    action:
      "Run `threadline streams plan` to see where the server stands, fix the cause in the message, and apply again.",
  },
  NOT_A_DEAD_LETTER: {
    area: "streams",
    meaning:
      "A message read as a dead letter lacks a Threadline-Dlq-* header or has a malformed one (only -Sequence may be absent: a producer's refusal never was in a stream).",
    action: "Read it as an ordinary message, and find what else publishes on mfg.dlq.>.",
  },

  REPLAY_TARGET_MISSING: {
    area: "streams",
    meaning:
      "A replay, rewind or redrive names a durable that does not exist, does not read the selected stream, or has no replay channel (`<durable>-replay` on THREADLINE_REPLAY); nothing was delivered.",
    action:
      "Check the durable's name and stream (`nats consumer ls <stream>`), and run `threadline streams apply` so its replay channel is declared.",
  },

  // --- SDK consumer ------------------------------------------------------------------------------
  CONSUMER_ILLEGAL_STATE: {
    area: "sdk-consumer",
    meaning: "A consumer method was called in a state that does not allow it (e.g. resume() while stopping).",
    action: "Fix the calling code to follow the consumer's lifecycle (start → stop, once).",
  },
  CONSUMER_SETUP: {
    area: "sdk-consumer",
    meaning:
      "The durable cannot be consumed: the stream or consumer is missing, push-based or not explicit-ack, or the connection closed.",
    action:
      "Declare the stream and durable with `threadline streams apply` and restart; for a closed connection, stop the consumer before closing NATS.",
  },
  CONSUMER_SHUTDOWN_ABORT: {
    area: "sdk-consumer",
    meaning:
      "The drain deadline passed during shutdown: the handler's signal was aborted and the message nak'd for redelivery.",
    action:
      "Nothing is lost; if it happens often, raise drainTimeoutMs or make the handler honour ctx.signal.",
  },
  HANDLER_PERMANENT: {
    area: "sdk-consumer",
    meaning: "A handler threw a non-retryable error without a code of its own (dead-letter reason).",
    action: `Read the dead letter's message, fix the data or the handler (and give the error a catalogued code), ${REPLAY}.`,
  },
  MAX_DELIVERIES: {
    area: "sdk-consumer",
    meaning:
      "The last allowed attempt failed with a retryable error (dead-letter reason; the message holds the last error).",
    action: `Fix the cause the last error names (an outage, a bug), ${REPLAY}.`,
  },
  UNHANDLED_TYPE: {
    area: "sdk-consumer",
    meaning:
      'The consumer has no handler for the event type and onUnhandledType is "dead-letter" (dead-letter reason).',
    action: `Add a handler for the type or narrow the durable's filter subjects, ${REPLAY}.`,
  },

  // --- SDK publisher -----------------------------------------------------------------------------
  PUBLISH_RETRIES_EXHAUSTED: {
    area: "sdk-publisher",
    meaning:
      "A publish got no PubAck: every attempt failed with a transient error until the retry policy ran out.",
    action:
      "Check that a stream captures the subject and JetStream is up, then publish again (the same ce-id is deduplicated).",
  },
  PUBLISH_REJECTED: {
    area: "sdk-publisher",
    meaning:
      "The server refused the message with a non-transient JetStream error, or the connection was closed.",
    action:
      "Read the JetStream error in the message (e.g. a full stream, a wrong expected sequence) and fix it before publishing again.",
  },
  PUBLISH_BATCH_FAILED: {
    area: "sdk-publisher",
    meaning:
      "Some publishes of an async batch failed while the others were acknowledged; the error lists the failed ones.",
    action: "Republish the failed events with the same ids (the stream deduplicates them).",
  },

  // --- configuration -----------------------------------------------------------------------------
  CONFIG_INVALID: {
    area: "config",
    meaning:
      "A setting (environment variable, config file key, option or CLI flag) is missing or wrong; the message names it.",
    action:
      "Fix the setting the message names (see the service's README for the allowed values) and restart; the CLI exits 2.",
  },

  // --- Odoo's own exceptions ---------------------------------------------------------------------
  ODOO_VALIDATION_ERROR: {
    area: "odoo",
    meaning:
      "Odoo refused the write: a constraint failed (odoo.exceptions.ValidationError, also a database integrity error).",
    action: `Read Odoo's message in the dead letter, correct the record in Odoo (or the event's data), ${REPLAY}.`,
  },
  ODOO_USER_ERROR: {
    area: "odoo",
    meaning: "Odoo refused the operation by a business rule (odoo.exceptions.UserError).",
    action: `Do in Odoo what its message asks (a state, a missing setting), ${REPLAY}.`,
  },
  ODOO_ACCESS_ERROR: {
    area: "odoo",
    meaning:
      "Odoo's access rights or record rules refused the connector's user (odoo.exceptions.AccessError).",
    action: `Give the connector's Odoo user the access rights services/odoo-connector/README.md lists (Odoo's message names the model, often the group), ${REPLAY}.`,
  },
  ODOO_ACCESS_DENIED: {
    area: "odoo",
    meaning:
      "Odoo refused the login or API key (odoo.exceptions.AccessDenied); the call is retried, not dead-lettered.",
    action:
      "Check ODOO_LOGIN and ODOO_API_KEY (the key may have been revoked or expired) and restart the connector.",
  },
  ODOO_MISSING_ERROR: {
    area: "odoo",
    meaning: "A record the call names was deleted or never existed in Odoo (odoo.exceptions.MissingError).",
    action: `Check whether the record was deleted in Odoo on purpose; recreate it or drop the event, ${REPLAY} if recreated.`,
  },
  ODOO_REDIRECT_WARNING: {
    area: "odoo",
    meaning:
      "Odoo refused the operation and points at a settings page to fix first (odoo.exceptions.RedirectWarning).",
    action: `Open the Odoo page the message names and complete the setting, ${REPLAY}.`,
  },
  ODOO_SESSION_EXPIRED_EXCEPTION: {
    area: "odoo",
    meaning:
      "Odoo's session expired (odoo.http.SessionExpiredException); the client logs in again once, then retries.",
    action: "Nothing when it passes; if it repeats, check that the login and API key are still valid.",
  },
  ODOO_SERIALIZATION_FAILURE: {
    area: "odoo",
    meaning:
      "Odoo gave up on a concurrent update after its own retries and rolled back (psycopg2 SerializationFailure); retried.",
    action:
      "Nothing when it passes; if it persists, look for another process writing the same records in Odoo.",
  },
  ODOO_DEADLOCK_DETECTED: {
    area: "odoo",
    meaning:
      "PostgreSQL found a deadlock under Odoo and rolled the transaction back (psycopg2 DeadlockDetected); retried.",
    action:
      "Nothing when it passes; if it persists, lower ODOO_CONCURRENCY or look for a long-running job in Odoo.",
  },
  ODOO_LOCK_NOT_AVAILABLE: {
    area: "odoo",
    meaning:
      "A row Odoo needed was locked by another transaction and Odoo gave up (psycopg2 LockNotAvailable); retried.",
    action: "Nothing when it passes; if it persists, find the Odoo job or user holding the records.",
  },
  ODOO_OPERATIONAL_ERROR: {
    area: "odoo",
    meaning:
      "Odoo lost its PostgreSQL connection (retried, may have been applied) or its database does not exist (psycopg2 OperationalError).",
    action:
      "Check Odoo's database server and ODOO_DB; postings check Odoo for their event id before applying again.",
  },
  ODOO_VALUE_ERROR: {
    area: "odoo",
    meaning:
      "Odoo's Python code rejected a value (builtins.ValueError), usually a bad argument or field value.",
    action: `Read Odoo's message in the dead letter and fix the event data or the connector mapping, ${REPLAY}.`,
  },
  ODOO_SERVER_ERROR: {
    area: "odoo",
    meaning: "Odoo answered with a JSON-RPC error that names no exception class.",
    action: `Read Odoo's server log for the traceback at that time and fix the cause, ${REPLAY}.`,
  },
  ODOO_NOT_FOUND: {
    area: "odoo",
    meaning:
      "Odoo answered 404 Not Found for the route (werkzeug NotFound): a wrong URL prefix, database, or a missing module.",
    action: "Check ODOO_URL and ODOO_DB, and that the Odoo modules the connector needs are installed.",
  },
  ODOO_UNAUTHORIZED: {
    area: "odoo",
    meaning: "Odoo answered 401 Unauthorized (werkzeug Unauthorized): the API key was refused.",
    action: "Check ODOO_API_KEY and the user it belongs to, then restart the connector.",
  },
  ODOO_TOO_MANY_REQUESTS: {
    area: "odoo",
    meaning: "Odoo answered 429 Too Many Requests; the call is retried after Retry-After.",
    action: "Nothing when it passes; if it persists, lower ODOO_RATE_PER_SECOND or ODOO_CONCURRENCY.",
  },
  ODOO_SERVICE_UNAVAILABLE: {
    area: "odoo",
    meaning:
      "Odoo answered 503 Service Unavailable (werkzeug ServiceUnavailable); nothing was applied, the call is retried.",
    action: "Check that Odoo's workers are up (maintenance, restart); postings resume by themselves.",
  },
  ODOO_GATEWAY_TIMEOUT: {
    area: "odoo",
    meaning: "Odoo answered 504 Gateway Timeout; the call may still have been applied, and is retried.",
    action: "Check Odoo's load; postings check Odoo for their event id before applying again.",
  },
  ODOO_HTTP_401: {
    area: "odoo",
    meaning:
      "The HTTP server at the Odoo URL answered 401 without Odoo's error body (a proxy's authentication).",
    action: "Check the proxy's authentication in front of Odoo and ODOO_URL.",
  },
  ODOO_HTTP_404: {
    area: "odoo",
    meaning:
      "The HTTP server at the Odoo URL answered 404 without Odoo's error body: a wrong URL or path prefix.",
    action: "Check ODOO_URL (scheme, host, port, a reverse proxy's path prefix).",
  },
  ODOO_HTTP_429: {
    area: "odoo",
    meaning:
      "The HTTP server at the Odoo URL answered 429 without Odoo's error body (a proxy's rate limit); retried after Retry-After.",
    action: "Lower ODOO_RATE_PER_SECOND or raise the proxy's limit for the connector.",
  },
  ODOO_HTTP_502: {
    area: "odoo",
    meaning:
      "A proxy in front of Odoo answered 502: it found no Odoo to talk to; nothing was applied, retried.",
    action: "Check that Odoo runs behind the proxy; postings resume by themselves.",
  },
  ODOO_HTTP_503: {
    area: "odoo",
    meaning:
      "A proxy in front of Odoo answered 503: Odoo is down or in maintenance; nothing was applied, retried.",
    action: "Check that Odoo runs behind the proxy; postings resume by themselves.",
  },
  ODOO_HTTP_504: {
    area: "odoo",
    meaning:
      "A proxy in front of Odoo answered 504: Odoo did not answer in time and may have applied the call; retried.",
    action: "Check Odoo's load; postings check Odoo for their event id before applying again.",
  },

  // --- Odoo connector ----------------------------------------------------------------------------
  CONNECTOR_ODOO_UNREACHABLE: {
    area: "odoo-connector",
    meaning:
      "The connector could not reach Odoo when connecting: refused, DNS, timeout, or a proxy answering 502/503/504.",
    action:
      "Check ODOO_URL, that Odoo runs, and that this host may connect to it; then restart the connector.",
  },
  CONNECTOR_NOT_ODOO: {
    area: "odoo-connector",
    meaning: "An HTTP server answered at ODOO_URL, but not as Odoo does (e.g. an HTML 404 page).",
    action: "Check ODOO_URL: scheme, host, port and a reverse proxy's path prefix.",
  },
  CONNECTOR_DATABASE_UNKNOWN: {
    area: "odoo-connector",
    meaning: "The database named by ODOO_DB does not exist on the Odoo server.",
    action: "Check ODOO_DB against the databases of that Odoo server.",
  },
  CONNECTOR_LOGIN_FAILED: {
    area: "odoo-connector",
    meaning:
      "Odoo refused the login / API key pair, or the key belongs to another user (the key is never printed).",
    action: "Check ODOO_LOGIN and ODOO_API_KEY (a key of that same user), then restart the connector.",
  },
  CONNECTOR_VERSION_UNSUPPORTED: {
    area: "odoo-connector",
    meaning: "Odoo is older than 16, or ODOO_PROTOCOL asks for JSON-2 on an Odoo before 19.",
    action: 'Upgrade Odoo, or set ODOO_PROTOCOL to "auto" or "jsonrpc".',
  },
  CONNECTOR_CONNECT_FAILED: {
    area: "odoo-connector",
    meaning: "Odoo answered the connection checks with an error none of the other connect codes describes.",
    action: "Read Odoo's error name and message in the error and Odoo's server log at that time.",
  },
  CONNECTOR_SETUP_INCOMPLETE: {
    area: "odoo-connector",
    meaning:
      "Odoo is not set up for Threadline: a model, field or copied field the connector needs is missing.",
    action: "Run `threadline odoo setup` as an Odoo administrator, then restart the connector.",
  },
  CONNECTOR_ORDER_NOT_FOUND: {
    area: "odoo-connector",
    meaning:
      "Odoo has no manufacturing order (nor a backorder of it) with the reference the event names (dead-letter reason).",
    action: `Check the order reference the machine reported against Odoo; correct it at the source, ${REPLAY}.`,
  },
  CONNECTOR_ORDER_NOT_OPEN: {
    area: "odoo-connector",
    meaning:
      "No order of the family (the order and its backorders) is open for production on the report's line: all are done, cancelled or draft (dead-letter reason).",
    action: `Check the order and the line the report names in Odoo; confirm or open an order for the run, ${REPLAY}.`,
  },
  CONNECTOR_PICKING_NOT_FOUND: {
    area: "odoo-connector",
    meaning:
      "The delivery (stock.picking) of a shipment decision does not exist in Odoo (dead-letter reason).",
    action:
      "Check whether the picking was deleted in Odoo or the event comes from another database; drop or redrive accordingly.",
  },
  CONNECTOR_LOT_NOT_FOUND: {
    area: "odoo-connector",
    meaning:
      "The lot the event names is unknown in Odoo (dead-letter reason; retried while a hold is being placed).",
    action: `Create or correct the lot in Odoo, ${REPLAY}.`,
  },
  GENEALOGY_EVENT_UNUSABLE: {
    area: "genealogy",
    meaning:
      "An event decoded but cannot be put in the lot graph (a quantity or key the database refuses); it went to the dead-letter stream with this reason.",
    action: `Fix the publisher's mapping for the field the message names, ${REPLAY}.`,
  },
  GENEALOGY_DATABASE_UNAVAILABLE: {
    area: "genealogy",
    meaning:
      "The genealogy's database did not answer or refused a connection; events wait in the stream (redelivered with backoff), queries answer 503.",
    action:
      "Check the PostgreSQL server DATABASE_URL names (or the embedded database's directory and disk); the builder catches up by itself once it answers.",
  },
  GENEALOGY_SCHEMA_AHEAD: {
    area: "genealogy",
    meaning:
      "The genealogy schema in the database was migrated by a newer builder than this one: it is not written with an older shape.",
    action:
      "Run the newer genealogy builder, or point this one at a fresh schema (GENEALOGY_SCHEMA) and rebuild it.",
  },
  GENEALOGY_LOT_UNKNOWN: {
    area: "genealogy",
    meaning: "No lot of that name (and product, when given) is in the lot graph (HTTP 404, CLI exit 1).",
    action:
      "Check the lot name (and --product); a lot appears once an event names it — see `threadline genealogy lots <prefix>`.",
  },
  GENEALOGY_LOT_AMBIGUOUS: {
    area: "genealogy",
    meaning: "Several products have a lot of that name; the answer lists them (HTTP 409, CLI exit 1).",
    action: "Say which product with --product (the query parameter `product`).",
  },
  GENEALOGY_QUERY_INVALID: {
    area: "genealogy",
    meaning:
      "A trace, recall or export request is malformed (a depth, a time window, a parameter); nothing was read.",
    action: "Fix the parameter the message names (see the OpenAPI document at /openapi.json).",
  },
  GENEALOGY_REBUILD_FAILED: {
    area: "genealogy",
    meaning:
      "A rebuild of the lot graph from the streams stopped before switching over; the live graph is unchanged and the partial schema was dropped.",
    action: "Read the cause in the message, fix it, and run `threadline genealogy rebuild` again.",
  },
  GENEALOGY_EMBEDDED_TAKEN: {
    area: "genealogy",
    meaning:
      "A second genealogy builder on an embedded database (no DATABASE_URL) met one already holding the durables, where each would keep part of the events in its own graph: it is refused at start, and a replica that lost the embedded graph's lease gives its events back to the stream unwritten.",
    action:
      "Run one builder on the embedded database, or every replica on one PostgreSQL server (DATABASE_URL); the message names the replica holding it.",
  },
  GENEALOGY_UNAUTHORIZED: {
    area: "genealogy",
    meaning:
      "A genealogy API request came without the bearer token, or with the wrong one (HTTP 401); traces name customers and suppliers, so only the OpenAPI document is open.",
    action:
      "Send `Authorization: Bearer <GENEALOGY_TOKEN>` (the CLI reads $GENEALOGY_TOKEN or --token-file); check that the service and the client have the same token.",
  },
  GENEALOGY_QUERY_FAILED: {
    area: "genealogy",
    meaning:
      "A genealogy query failed for a reason other than its input or an unreachable database (HTTP 500): a bug or a statement the database refused.",
    action:
      "Read the cause in the service log (logged with the route), and report it with the request that failed.",
  },
  GENEALOGY_REBUILD_RUNNING: {
    area: "genealogy",
    meaning:
      "A rebuild was asked for while one is running (HTTP 409): two would build into the same spare schema; nothing was started.",
    action: "Wait for the running rebuild to finish (the service log reports it), then ask again if needed.",
  },
  QUALITY_SPC_OPTIONS_INVALID: {
    area: "quality",
    meaning:
      "A control chart's options do not make a chart: a sigma that is not positive, a baseline too short, limits and a baseline both given, an unknown rule or a CUSUM/EWMA parameter out of range; the message names the option.",
    action: "Fix the option the message names (the characteristic's configuration, or the CLI flag).",
  },
  QUALITY_SPC_POINT_INVALID: {
    area: "quality",
    meaning:
      "A point given to a control chart is not usable: a value that is not a finite number, or a subgroup of another size than the chart's; the chart is unchanged.",
    action:
      "Fix the producer of the measurement, or chart the characteristic with the subgroup size it really has.",
  },
  QUALITY_CSV_INVALID: {
    area: "quality",
    meaning:
      "A series file for `threadline quality spc` has a bad header or a bad row (a value that is not a number, a time that is not a date, a wrong number of columns); the message names the line, nothing was evaluated.",
    action:
      "Fix the line the message names (header `time,value` or `time,value,subgroup`), then run the command again.",
  },
  QUALITY_CONFIG_INVALID: {
    area: "quality",
    meaning:
      "The quality service's QUALITY_CONFIG file (characteristics and hold policy) cannot be read or is not valid: the message names the file and the entry (e.g. `characteristics[2].limits.sigma`); the service did not start.",
    action:
      "Fix the entry the message names (services/quality-service/README.md documents the file), then start again.",
  },
  QUALITY_USERS_INVALID: {
    area: "quality",
    meaning:
      "The quality service's QUALITY_USERS_FILE cannot be read or is not valid (a user without a token digest, an unknown role); the service did not start.",
    action:
      "Fix the entry the message names; each user has a name, the SHA-256 of its token (`threadline quality token`) and its roles.",
  },
  QUALITY_UNAUTHORIZED: {
    area: "quality",
    meaning:
      "A quality API request came without a bearer token or with one no user has (HTTP 401); nothing was recorded.",
    action:
      "Send `Authorization: Bearer <token>` of a user of QUALITY_USERS_FILE ($QUALITY_TOKEN for the CLI).",
  },
  QUALITY_FORBIDDEN: {
    area: "quality",
    meaning:
      "The user is known but lacks the role the action needs (HTTP 403), e.g. a lab system's token releasing a hold; nothing was changed, and the refusal is logged with the user and the action.",
    action:
      "Ask for the role the message names (inspect, hold, release or read) in QUALITY_USERS_FILE, or act as a user who has it.",
  },
  QUALITY_REQUEST_INVALID: {
    area: "quality",
    meaning:
      "A quality API request's body or parameters are not valid (the message names the field): a malformed inspection, a release without a comment; nothing was published.",
    action: "Fix the field the message names and send the request again.",
  },
  QUALITY_UNKNOWN_CHARACTERISTIC: {
    area: "quality",
    meaning:
      "An inspection names a characteristic the quality service does not chart for that product and that carries no specification limits of its own (HTTP 422), so nothing could judge it; nothing was published.",
    action:
      "Add the characteristic to QUALITY_CONFIG (with its product and specification limits), or send the inspection's specification limits with it.",
  },
  QUALITY_HOLD_NOT_FOUND: {
    area: "quality",
    meaning: "The hold named in a release or a query does not exist (HTTP 404).",
    action: "List the holds (`threadline quality holds`) and use the id shown there.",
  },
  QUALITY_HOLD_ALREADY_DECIDED: {
    area: "quality",
    meaning:
      "A release or disposition was asked for a hold that is already released or rejected (HTTP 409): a decision is final; nothing was changed.",
    action: "Nothing if the decision stands; place a new hold if the lot must be blocked again.",
  },
  QUALITY_GENEALOGY_UNAVAILABLE: {
    area: "quality",
    meaning:
      "The genealogy builder could not be asked (unreachable, timed out, or it answered an error) while the quality service followed a hold's scope or checked a delivery: the shipment gate fails closed (the delivery is blocked with this reason and checked again until the genealogy answers), and a hold's scope is followed again on the next delivery of the event.",
    action:
      "Check the genealogy builder (`/readyz`, GENEALOGY_URL and GENEALOGY_API_TOKEN of the quality service); blocked deliveries clear themselves once it answers.",
  },
  QUALITY_REQUEST_FAILED: {
    area: "quality",
    meaning:
      "A quality API request failed for a reason other than its input, its rights or the service starting (HTTP 500): NATS refused the publish, or a bug.",
    action: "Read the cause in the service log (logged with the route), retry, and report it if it repeats.",
  },
  QUALITY_NOT_READY: {
    area: "quality",
    meaning:
      "The quality service is starting or stopping (HTTP 503): its state is not loaded; nothing was done.",
    action: "Retry after the Retry-After delay.",
  },
  CONSOLE_CONFIG_INVALID: {
    area: "console",
    meaning:
      "The ops console's configuration is wrong (a missing session secret, an OIDC setting without its partners, a role map that is not JSON); the console did not start.",
    action: "Fix the variable the message names (services/ops-console/README.md lists them) and start again.",
  },
  CONSOLE_ACCOUNTS_INVALID: {
    area: "console",
    meaning: "CONSOLE_ACCOUNTS_FILE cannot be read, or an entry in it is wrong; the console did not start.",
    action:
      "Fix the entry the message names; `threadline console account <name> --roles ...` prints a valid one.",
  },
  CONSOLE_SIGN_IN_FAILED: {
    area: "console",
    meaning:
      "A sign-in did not succeed: a wrong name or password, or an OpenID Connect answer that failed its checks (state, nonce, issuer, signature, an expired sign-in); no session was opened.",
    action:
      "Sign in again; if OIDC keeps failing, the console's log names the check that failed (the client id, redirect URI and issuer must match the provider's registration).",
  },
  CONSOLE_NO_ROLE: {
    area: "console",
    meaning:
      "The identity provider vouched for the user, but none of the values of the role claim maps to a console role; no session was opened.",
    action: "Grant the user a group the console's OIDC_ROLE_MAP names, or add the user's group to the map.",
  },
  CONSOLE_UNAUTHENTICATED: {
    area: "console",
    meaning:
      "A console request came without a session, or with one that expired or was signed out (HTTP 401); nothing was done.",
    action: "Sign in again (the page sends you to the sign-in).",
  },
  CONSOLE_FORBIDDEN: {
    area: "console",
    meaning:
      "The signed-in user lacks the role the action needs (HTTP 403), e.g. a viewer redriving a dead letter; nothing was changed, and the refusal is logged with the user and the action.",
    action: "Ask for the role the message names (operator or quality), or act as a user who has it.",
  },
  CONSOLE_CSRF_REJECTED: {
    area: "console",
    meaning:
      "A state-changing console request came without the session's CSRF token, or from another site's page (HTTP 403); nothing was done.",
    action:
      "Reload the console page and act again; a script must send the token of GET /api/session as the x-csrf-token header.",
  },
  CONSOLE_REQUEST_INVALID: {
    area: "console",
    meaning:
      "A console request's filter, parameter or body is not valid (HTTP 400); the message names the field; nothing was done.",
    action: "Correct the field the message names.",
  },
  CONSOLE_NOT_FOUND: {
    area: "console",
    meaning:
      "The order, lot, dead letter, replay, quality hold or charted characteristic the console was asked for is unknown (HTTP 404); for a hold or a lot, the message is the quality service's or the genealogy builder's.",
    action: "Check the reference; the streams may no longer hold it (their retention).",
  },
  CONSOLE_UPSTREAM_FAILED: {
    area: "console",
    meaning:
      "A service the console asks (quality service, genealogy builder) or NATS did not answer or refused (HTTP 502), or the console has no token for it (not configured); the message carries its answer; nothing was changed by the console, unless the message says the action was done but its audit record could not be written.",
    action:
      "Check that service's health and logs and act again when it answers; not configured: set QUALITY_URL and QUALITY_API_TOKEN, or GENEALOGY_URL and GENEALOGY_API_TOKEN.",
  },
  CONSOLE_NOT_READY: {
    area: "console",
    meaning:
      "The ops console is starting or stopping (HTTP 503): its connection to NATS is not ready; nothing was done.",
    action: "Retry in a few seconds; if it lasts, check the console's /readyz and its log.",
  },
  CONSOLE_TOO_MANY_REQUESTS: {
    area: "console",
    meaning:
      "Too many sign-in attempts from one address or for one name, or too many sign-ins started (HTTP 429, with Retry-After); nothing was written.",
    action:
      "Wait the Retry-After delay; repeated bursts are worth a look in the console's log (the address and the name are logged).",
  },
  ORCHESTRATOR_STATE_CONFLICT: {
    area: "orchestrator",
    meaning:
      "An order's process kept changing under the orchestrator's compare-and-set writes (several handlers or replicas on one order at once); the event is retried.",
    action:
      "Nothing while it is rare; if it repeats, check that one orders durable is not consumed by more replicas than orders run at once.",
  },
  CONNECTOR_PRODUCT_NOT_FOUND: {
    area: "odoo-connector",
    meaning:
      "The product the event names (by internal reference or id) is unknown in Odoo (dead-letter reason).",
    action: `Create the product or fix its internal reference in Odoo (or the bridge's component names), ${REPLAY}.`,
  },
  CONNECTOR_WORKCENTER_NOT_FOUND: {
    area: "odoo-connector",
    meaning:
      "A downtime's line names no work center, or Odoo has no work center with the mapped code (dead-letter reason).",
    action: `Fix the connector's line → work center map or the work center code in Odoo, ${REPLAY}.`,
  },
  CONNECTOR_SETUP_MISSING: {
    area: "odoo-connector",
    meaning:
      "Odoo lacks a record the posting needs: a stock location, an internal transfer type, a loss reason or a done quality stage (dead-letter reason).",
    action: `Create the record the message names in Odoo (or configure the connector's names), ${REPLAY}.`,
  },
  CONNECTOR_WIZARD_UNANSWERED: {
    area: "odoo-connector",
    meaning: "An Odoo button opened a wizard the connector does not answer (dead-letter reason).",
    action: `Finish the operation in Odoo by hand, ${REPLAY}.`,
  },
  CONNECTOR_UNEXPECTED_STATE: {
    area: "odoo-connector",
    meaning:
      "Odoo did not end in the state the posting expects (a transfer cancelled, an order not done after its button) (dead-letter reason).",
    action:
      "Open the record the message names in Odoo, see why it is in that state, and fix it before redriving.",
  },
  CONNECTOR_CONSUMPTION_WARNING: {
    area: "odoo-connector",
    meaning:
      "Closing the order opened Odoo's consumption warning: the recorded components differ from the BoM; never confirmed blindly (dead-letter reason).",
    action: `A planner corrects the consumption (or the BoM) in Odoo for the components the message names, ${REPLAY}.`,
  },
  CONNECTOR_LOT_MISMATCH: {
    area: "odoo-connector",
    meaning: "A report is for another lot than the one the open order already produced (dead-letter reason).",
    action: `Close the order (\`threadline odoo close\`) so the next lot gets its own order, ${REPLAY}.`,
  },
  CONNECTOR_SERIAL_TRACKED: {
    area: "odoo-connector",
    meaning:
      "A serial-tracked product reached a posting that takes lots only, or a serial report that is not whole units (dead-letter reason).",
    action:
      "Post serial units through the serial flow (one unit per serial), or fix the product's tracking in Odoo.",
  },
  CONNECTOR_SCRAP_INSUFFICIENT_QUANTITY: {
    area: "odoo-connector",
    meaning: "Odoo has less on hand than a scrap takes; the production stays posted (dead-letter reason).",
    action: `Count the stock in Odoo (or validate the scrap by hand), ${REPLAY}.`,
  },
  CONNECTOR_QUANTITY_INVALID: {
    area: "odoo-connector",
    meaning: "An event carries a quantity that is not a finite decimal (dead-letter reason).",
    action:
      "Fix the producer of the event (the dead letter names it in ce-source); the event cannot be posted as is.",
  },
  CONNECTOR_CIRCUIT_OPEN: {
    area: "odoo-connector",
    meaning:
      "The connector's circuit breaker considers Odoo down after consecutive transient failures and refuses calls until a probe succeeds; retried.",
    action: "Check Odoo's availability; postings resume by themselves once a probe call succeeds.",
  },
  CONNECTOR_ODOO_TIMEOUT: {
    area: "odoo-connector",
    meaning: "Odoo gave no answer within ODOO_TIMEOUT_MS; the call may have been applied and is retried.",
    action: "Check Odoo's load; postings check Odoo for their event id before applying again.",
  },
  CONNECTOR_CONNECTION_REFUSED: {
    area: "odoo-connector",
    meaning: "Odoo's host refused the connection; nothing was sent, the call is retried.",
    action: "Check that Odoo runs and listens at ODOO_URL.",
  },
  CONNECTOR_DNS_FAILED: {
    area: "odoo-connector",
    meaning: "The host name of ODOO_URL did not resolve; nothing was sent, the call is retried.",
    action: "Check ODOO_URL's host name and this host's DNS.",
  },
  CONNECTOR_HOST_UNREACHABLE: {
    area: "odoo-connector",
    meaning: "The network has no route to Odoo's host; nothing was sent, the call is retried.",
    action: "Check the network path (routes, firewall) from the connector to Odoo.",
  },
  CONNECTOR_CONNECT_TIMEOUT: {
    area: "odoo-connector",
    meaning: "Opening the connection to Odoo timed out; nothing was sent, the call is retried.",
    action: "Check that Odoo's host is up and that a firewall does not drop the connection.",
  },
  CONNECTOR_CONNECTION_RESET: {
    area: "odoo-connector",
    meaning: "The connection to Odoo broke without an answer; the call may have been applied and is retried.",
    action:
      "Check Odoo and the proxies in between; postings check Odoo for their event id before applying again.",
  },
  CONNECTOR_CLOSED: {
    area: "odoo-connector",
    meaning:
      "The connector's Odoo client is closing or closed (shutdown); the event is given back, not dead-lettered.",
    action: "Nothing: another replica or the restarted connector takes the event.",
  },
  CONNECTOR_CLIENT_ERROR: {
    area: "odoo-connector",
    meaning:
      "The connector's Odoo client failed on its own side before or after the call (a bug or an unexpected value) (dead-letter reason).",
    action: "Report it with the dead letter's message and the connector's log; redrive once fixed.",
  },
  CONNECTOR_CURSOR_CONFLICT: {
    area: "odoo-connector",
    meaning:
      "The inbound sync cursor was changed by another process or could not be saved; it is re-read on the next pass.",
    action: "Nothing when it passes; if it repeats, check that only one connector syncs that Odoo database.",
  },
  CONNECTOR_MASTERDATA_SHAPE_UNKNOWN: {
    area: "odoo-connector",
    meaning:
      "A master-data record from Odoo has a shape the connector does not know (a missing or mistyped field, a selection value outside the known set); it was refused and dead-lettered (mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound), not published, and readers keep its previous version (dead-letter reason).",
    action:
      "Read the field named in the dead letter's message (its body is the record as read); fix the record in Odoo, or extend the mapping and schema for the new value.",
  },
  CONNECTOR_UNIT_FACTOR_ZERO: {
    area: "odoo-connector",
    meaning:
      "A unit of measure has a conversion factor (ratio or relative factor) of zero, which converts nothing; it was refused and dead-lettered (mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound), not published (dead-letter reason).",
    action:
      "Correct the unit's ratio in Odoo (Inventory > Configuration > Units of Measure); the next sync publishes it.",
  },
  CONNECTOR_UNIT_FACTOR_INEXACT: {
    area: "odoo-connector",
    meaning:
      "A unit of measure's ratio or relative factor has more than 6 decimal places, so no exact decimal carries it; it was refused and dead-lettered (mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound), not published (dead-letter reason).",
    action:
      "Define the unit the other way round in Odoo (a bigger unit against a smaller reference) so its ratio has at most 6 places.",
  },
  CONNECTOR_BOM_CYCLE: {
    area: "odoo-connector",
    meaning:
      "A bill of materials is part of a cycle: one of its components is made by a BoM that (directly or further down) consumes the BoM's own product; it was refused and dead-lettered (mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound), not published (dead-letter reason).",
    action:
      "Break the cycle in Odoo (the dead letter's message and the log name the products on the path); the next sync publishes the BoM.",
  },

  // --- simulators ----------------------------------------------------------------------------------
  SIM_STOPPED: {
    area: "simulators",
    meaning: "The plant simulator was asked to restart its server after it was stopped.",
    action: "Start a new simulator instead of restarting a stopped one.",
  },
  SIM_LISTEN_FAILED: {
    area: "simulators",
    meaning:
      "The plant simulator cannot serve OPC UA on the host and port asked (often: the port is in use).",
    action: "Choose another port, or 0 for a free one.",
  },
  SIM_UNKNOWN_MACHINE: {
    area: "simulators",
    meaning: "A machine id is not in the simulated plant.",
    action: "Use a machine id from the plant configuration the simulator was started with.",
  },
  PACKML_ILLEGAL_TRANSITION: {
    area: "simulators",
    meaning:
      "A PackML command is not allowed in the machine's current state (OPC UA answers BadInvalidState).",
    action: "Send one of the commands the message lists as allowed in that state.",
  },

  // --- local nats-server -------------------------------------------------------------------------
  NATS_SERVER_NOT_FOUND: {
    area: "local-nats",
    meaning: "No nats-server binary was found (or could be installed) for a local server.",
    action:
      "Install nats-server (`apt-get install -y nats-server`) or point THREADLINE_NATS_SERVER at the binary.",
  },
  NATS_SERVER_START_FAILED: {
    area: "local-nats",
    meaning:
      "The local nats-server could not be spawned or exited during startup; the error holds its last log lines.",
    action: "Read the log lines in the message (a port in use, a bad config) and fix that.",
  },
  NATS_SERVER_READY_TIMEOUT: {
    area: "local-nats",
    meaning: "The local nats-server runs but did not report healthy in time.",
    action: "Read the log lines in the message; on a loaded machine, run fewer tests at once.",
  },
  NATS_SERVER_STOP_FAILED: {
    area: "local-nats",
    meaning: "The local nats-server did not exit even after SIGKILL.",
    action: "Find the process by the pid in the message and check the machine (a hung disk, a zombie).",
  },
  NATS_SERVER_DISPOSED: {
    area: "local-nats",
    meaning: "A local server handle was used after it was disposed and its storage removed.",
    action: "Create a new server instead of reusing a disposed one.",
  },
  NATS_PORT_ALLOCATION_FAILED: {
    area: "local-nats",
    meaning:
      "No free TCP port could be obtained, or the fixed port asked for is reserved for a system NATS server.",
    action: "Free ports on 127.0.0.1 or choose another fixed port.",
  },
  NATS_CLUSTER_NOT_READY: {
    area: "local-nats",
    meaning: "The local cluster did not agree on a JetStream meta leader in time.",
    action: "Read the node logs in the message; on a loaded machine, run fewer tests at once.",
  },
  NATS_LEAF_LINK_TIMEOUT: {
    area: "local-nats",
    meaning: "The local leaf node did not connect to (or disconnect from) its hub in time.",
    action: "Read the hub and leaf logs in the message for the leafnode error.",
  },

  // --- command line ------------------------------------------------------------------------------
  USAGE: {
    area: "cli",
    meaning: "A wrong flag, argument or input shape was given to `threadline`; it exits 2.",
    action: "Run the command with --help and fix the invocation.",
  },
  COMMAND_FAILED: {
    area: "cli",
    meaning:
      "A command's outcome is a failure already explained on stdout/stderr (e.g. incompatible schemas); it exits 1.",
    action: "Read the command's output above the error line.",
  },

  SCAFFOLD_NAME_INVALID: {
    area: "cli",
    meaning:
      "`threadline new service` was given a name that is not lower-case kebab (letters, digits, single hyphens, a letter first, at most 24 characters); nothing was written.",
    action: "Choose a name such as scrap-tracker and run the command again.",
  },
  SCAFFOLD_SERVICE_EXISTS: {
    area: "cli",
    meaning:
      "`threadline new service` found services/<name>/, test/<name>/ or the service's manifest in tools/manifests.ts already; nothing was written.",
    action: "Choose another name, or change the existing service instead.",
  },
  SCAFFOLD_NOT_A_CHECKOUT: {
    area: "cli",
    meaning:
      "The folder `threadline new service` was to write into has no services/ or no tools/manifests.ts.",
    action: "Run it from a Threadline checkout, or point --root at one.",
  },
  SCAFFOLD_MANIFESTS_UNRECOGNISED: {
    area: "cli",
    meaning:
      "tools/manifests.ts has no `SERVICE_MANIFESTS` array or no manifest import from ../services/ to extend; nothing was written.",
    action: "Add the import and the entry the message names by hand, or restore the file's shape.",
  },
  // --- units -------------------------------------------------------------------------------------
  UOM_UNKNOWN: {
    area: "units",
    meaning:
      "A quantity was to be converted from or to a unit of measure the unit table does not hold; the message names both units and which is unknown (dead-letter reason).",
    action:
      "Create the unit in Odoo (or fix the unit the producer sends, e.g. the machine's `counters.uom` in the bridge mapping), then redrive the dead letter.",
  },
  UOM_CATEGORY_MISMATCH: {
    area: "units",
    meaning:
      "A quantity was to be converted between units of two categories (Odoo 16–18) or without a common reference unit (Odoo 19), e.g. kg to Units; the message names both units (dead-letter reason).",
    action:
      "Count the machine in a unit of the order's category (the bridge mapping's `counters.uom`), or fix the order's unit in Odoo, then redrive the dead letter.",
  },
  UOM_QUANTITY_INVALID: {
    area: "units",
    meaning: "A quantity to convert is not a decimal number (dead-letter reason).",
    action: "Fix the producer of the event so its quantities are decimal strings.",
  },
  UOM_FACTOR_INVALID: {
    area: "units",
    meaning:
      "A unit of measure's factor, relative factor or rounding is zero, negative or not a number, so no unit table was built from it.",
    action: "Fix the unit in Odoo (Inventory → Configuration → Units of Measure); the message names it.",
  },
  UOM_TABLE_INVALID: {
    area: "units",
    meaning:
      "Unit records do not make a table: two active units share a name, a reference unit is missing or circular, a reference unit's factor is not 1, or Odoo 16–18 and 19 records are mixed.",
    action: "Fix the unit the message names in Odoo (or the records given to `unitTable`).",
  },

  // --- examples ----------------------------------------------------------------------------------
  BAD_DECIMAL: {
    area: "examples",
    meaning:
      "The order-progress example, or a service made by `threadline new service`, met a quantity that is not a decimal with the expected scale (dead-letter reason).",
    action: "Fix the producer of the report; the example cannot add it up.",
  },
  UOM_MISMATCH: {
    area: "examples",
    meaning:
      "A service made by `threadline new service` got a report whose quantities have different units (good and reject, or the report and the totals kept); its template keeps totals in one unit, converting nothing (dead-letter reason; conversion: docs/units.md).",
    action: "Fix the producer so a report and its key's earlier reports use one unit, then redrive.",
  },
  ORDER_PROGRESS_CONTENDED: {
    area: "examples",
    meaning: "The order-progress example kept losing the compare-and-set on an order's KV record; retried.",
    action: "Nothing when it passes; if it persists, check for other writers of the example's bucket.",
  },
} as const satisfies Record<string, ErrorCatalogEntry>;

/** A code listed in the catalogue. */
export type CatalogedErrorCode = keyof typeof ERROR_CATALOG;

/**
 * An exception Odoo raised, named after its Python class: `odoo.exceptions.ValidationError` →
 * `ODOO_VALIDATION_ERROR` ({@link odooExceptionCode}). Open-ended: Odoo and its modules add classes.
 */
export type OdooErrorCode = `ODOO_${string}`;

/** Every code a Threadline error may carry: a catalogued one, or an Odoo exception's. */
export type ErrorCode = CatalogedErrorCode | OdooErrorCode;

/** The entry that explains an Odoo exception the catalogue does not list by name. */
export const ODOO_PATTERN = {
  code: "ODOO_<NAME>",
  area: "odoo",
  meaning:
    "Odoo raised an exception this page does not list: `<NAME>` is the last part of its Python class name in upper snake case (`ODOO_HTTP_<status>`: the HTTP server at the Odoo URL answered that status without Odoo's error body).",
  action:
    "Read Odoo's exception name and message in the error or dead letter, and its server log at that time; a permanent one is dead-lettered and redriven once fixed, a transient one is retried.",
} as const satisfies ErrorCatalogEntry & { code: string };

/**
 * The code of an exception Odoo reported, by its dotted Python name: the last part in upper snake case
 * after `ODOO_` (`odoo.exceptions.AccessError` → `ODOO_ACCESS_ERROR`,
 * `psycopg2.errors.SerializationFailure` → `ODOO_SERIALIZATION_FAILURE`); an HTTP answer that is not
 * Odoo's, `http.<status>`, is `ODOO_HTTP_<status>`.
 */
export function odooExceptionCode(pythonName: string): OdooErrorCode {
  const short = pythonName.slice(pythonName.lastIndexOf(".") + 1);
  const base = pythonName.startsWith("http.") ? `http_${short}` : short;
  const snake = base
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
  return `ODOO_${snake || "ERROR"}`;
}

/** Whether `code` is listed in the catalogue. */
export function isCatalogedErrorCode(code: string): code is CatalogedErrorCode {
  return Object.hasOwn(ERROR_CATALOG, code);
}

/**
 * What the catalogue says about `code`: its own entry, the Odoo pattern for an `ODOO_` code it does not
 * list, undefined for anything else.
 */
export function describeErrorCode(code: string): (ErrorCatalogEntry & { readonly code: string }) | undefined {
  if (isCatalogedErrorCode(code)) return { code, ...ERROR_CATALOG[code] };
  if (/^ODOO_[A-Z0-9_]+$/.test(code)) return ODOO_PATTERN;
  return undefined;
}
