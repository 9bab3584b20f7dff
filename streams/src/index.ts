/**
 * The public entry point of `streams/`, the runtime SDK: everything services/ and tools/ may use to
 * connect, publish, consume, read, declare and run. Code outside streams/ imports from here and never
 * from a file beside it (test/architecture.test.ts enforces this).
 *
 * Exports are listed by name, never `export *`, so nothing leaks by accident and adding to the surface
 * is a visible change. Files inside streams/ import each other directly, never through this file.
 */

// One NATS account per service, ops and analyst around the JetStream account (docs/security.md).
export {
  type AccountSpec,
  ADMIN_USER,
  ANALYST_USER,
  accountPasswordVariables,
  accountsOf,
  analystStreams,
  explainAnalystPermissions,
  JETSTREAM_ACCOUNT,
  renderAccounts,
  SYSTEM_ACCOUNT,
} from "./accounts.js";
// The audit trail of ops actions (replay, rewind, copy, redrive, purge).
export {
  AUDIT_ACTIONS,
  AUDIT_STREAM,
  type AuditAction,
  type AuditRecord,
  auditSubject,
  auditWho,
  listAudit,
  recordAudit,
} from "./audit.js";
export { type BackoffPolicy, backoffDelay, parseBackoff, sleep } from "./backoff.js";
// Running a service: config from file and environment, the NATS connection, logs, metrics, health.
export { BaseServiceConfig, loadConfig, loadStructured, parseStructured } from "./config.js";
export { connectionOptions, connectNats, natsSettingsFromEnv } from "./connection.js";
// Consuming: the durable pull consumer, its handlers and how a handler says "retry" or "give up".
export {
  type ConsumedEvent,
  type ConsumerOptions,
  type ConsumerStats,
  createEventConsumer,
  type EventConsumer,
  type EventHandler,
  type EventHandlers,
  type HandlerContext,
  isRetryable,
  type PartitionsOptions,
  PermanentError,
  RetryableError,
} from "./consumer.js";
export {
  type ConsumerGroup,
  type HandlerInterceptor,
  type InterceptedDelivery,
  type PausePolicy,
  startConsumers,
} from "./consumer-group.js";
export { type DeadLetter, deadLetterRefused, type RefusedMessage, readDeadLetter } from "./dead-letter.js";
// Streams, consumers and KV buckets as code, and bringing a server in line with them.
export {
  type DeclarationOptions,
  type Declarations,
  declarations,
  PROFILE_NAMES,
  type ProfileName,
  parseDuration,
} from "./declarations.js";
// Working the dead-letter stream: which dead letters a `threadline dlq` command works on.
export {
  type DeadLetterEntry,
  type DeadLetterScan,
  type DecodedDeadLetter,
  type DlqFilter,
  type DlqFilterInput,
  deadLetterAt,
  deadLetterEntry,
  deadLetterHeaders,
  deadLetterSummary,
  decodeDeadLetter,
  dlqFilterSubject,
  isNoMessage,
  listDeadLetters,
  matchesDlqFilter,
  type PurgeResult,
  parseDlqFilter,
  purgeDeadLetters,
  readDeadLetters,
} from "./dlq.js";
// Events on the wire: CloudEvents headers and the subject an event is published on.
export {
  CE,
  derivedEventId,
  type EventEnvelope,
  envelopeOf,
  fromHeaders,
  newEventId,
  subjectFor,
  toHeaders,
} from "./envelope.js";
export { ConfigError } from "./errors.js";
export { forServer } from "./for-server.js";
export { type ReadinessCheck, tokenMatches } from "./http.js";
// One owner for singleton work among replicas (a JetStream KV lease), and fenced state.
export { FencedValue, Lease, LeaseFencedError, type LeaseOptions, type LeaseState } from "./lease.js";
export { createLogger, type Logger, silentLogger } from "./logger.js";
// Commands to machines through the machine bridge (request/reply on threadline.cmd.machine.*).
export {
  MACHINE_COMMANDS_ALL,
  type MachineCommandBody,
  type MachineCommandReply,
  type MachineCommandRequest,
  machineCommandSubject,
  type SendMachineCommandOptions,
  type SetOrderCommand,
  sendMachineCommand,
} from "./machine-commands.js";
// A service's manifest (what it consumes, publishes and needs) and the NATS permissions it implies.
export {
  type DeploymentDeclaration,
  manifestAccess,
  type ServiceManifest,
  serviceManifest,
} from "./manifest.js";
// Master data (units, products, BoMs, work centres, locations, partners): loaded at start, followed.
export {
  MASTERDATA_STREAM,
  MASTERDATA_TYPES,
  MasterData,
  type MasterDataChange,
  type MasterDataKind,
  type MasterDataOptions,
  type MasterRecord,
  masterUnitRecord,
} from "./masterdata.js";
export {
  type ConsumerOutcome,
  defaultRegistry,
  type LabelValues,
  perRegistry,
  SDK_METRICS,
  type SdkMetricEntry,
  type SdkMetricName,
} from "./metrics.js";
export { DLQ_STREAM, dlqSubject, domainStream } from "./names.js";
// A partitioned durable: per-key order across replicas, one owner per partition (WorkShares).
export {
  createPartitionedConsumer,
  PARTITIONED_DEFAULTS,
  type PartitionedEventConsumer,
} from "./partitioned-consumer.js";
export {
  fnv1a32,
  PARTITION_OWNER_GROUP,
  partitionDurable,
  partitionDurables,
  partitionOf,
  pinPartitions,
} from "./partitions.js";
export {
  explainOpsPermissions,
  explainPermissions,
  OPS_USER,
  PermissionsError,
  parseServiceAccess,
  permissionsOf,
  renderAuthorization,
  renderHelmValues,
  renderUserConfig,
  replayOpsGrants,
} from "./permissions.js";
export {
  applyPlan,
  consumerConfigOf,
  destructiveItems,
  formatPlan,
  type Plan,
  planChanges,
  planSummary,
  serverFacts,
} from "./plan.js";
// Publishing: deduplicated, retried, in batches.
export { type BatchEvent, EventPublisher, PublishError, type PublishTarget } from "./publisher.js";
// Reading a stream window without a durable (replay, reconciliation, taps) and dead letters back.
export { decodeMessage, readEvents, readMessages, readStream, type StoredEvent } from "./read.js";
export {
  type DeadLetterFilter,
  deadLettersOfJob,
  REDRIVE_DEFAULTS,
  type RedriveItem,
  type RedriveOptions,
  type RedriveResult,
  redriveDeadLetters,
  waitForRedriven,
} from "./redrive.js";
// The replay channel: past events to one durable's handlers, beside its live consumer.
export {
  type DeliveryKind,
  NOT_REPLAYED,
  REPLAY_DEFAULTS,
  REPLAY_HEADERS,
  REPLAY_JOBS_BUCKET,
  REPLAY_STREAM,
  type ReplayOrigin,
  replayDurable,
  replayOriginOf,
  replaySubject,
} from "./replay.js";
export {
  checkReplayTarget,
  type DurablePosition,
  durablePosition,
  type ReplayChannelState,
  type ReplayJobOptions,
  type ReplayJobResult,
  type ReplayJobState,
  type ReplayProgress,
  ReplayTargetError,
  replayHeaders,
  replayJobState,
  replayToDurable,
  waitForReplayChannel,
} from "./replay-job.js";
// Which events an ops or analyst command works on (replay, tap, copy): one selection language.
export {
  matchesSelection,
  parseSelection,
  parseTime,
  readOptionsOf,
  type Selection,
  type SelectionInput,
  type SelectionSummary,
  type SummaryRow,
  selectEvents,
  selectMessages,
  summarizeSelection,
} from "./selection.js";
// What the connected nats-server can do (the 2.9 floor to the current release).
export {
  PRODUCTION_SERVER_VERSION,
  parseServerVersion,
  SERVER_FEATURES,
  type ServerFeature,
  serverHas,
} from "./server-features.js";
export { type RunningService, runService } from "./service.js";
export { STALE_MEMBER_TTLS, WorkShares, type WorkSharesOptions } from "./shares.js";
// The one shutdown deadline every service keeps (the pods' grace period is sized from it).
export { AFTER_DRAIN_MS, CONNECTION_DRAIN_MS, DEFAULT_DRAIN_MS, shutdownDeadlineMs } from "./shutdown.js";
// A relational projection's database: PostgreSQL by URL, or the embedded PGlite in a data directory.
export {
  checkDatabaseUrl,
  type Database,
  type DatabaseTarget,
  openDatabase,
  redactDatabaseUrl,
  type SqlQuery,
} from "./sql.js";
// A service's process entry point: a failed start is one JSON log line and exit code 1.
export { START_FAILURE_EXIT_CODE, type StartOrExitOptions, startOrExit } from "./start.js";
export { checkTlsFiles, type TlsFiles, type TlsIdentity, watchTlsFiles } from "./tls.js";
// Units of measure: exact conversion with Odoo's factors and rounding, and exact sums of quantities.
export {
  UnitCategoryMismatchError,
  UnitErrorCode,
  UnitFactorInvalidError,
  UnitQuantityInvalidError,
  UnitTableInvalidError,
  UnitUnknownError,
} from "./units/errors.js";
export {
  absMicros,
  divideMicros,
  formatMicros,
  type Micros,
  microsOf,
  microsOfFloat,
  microsToNumber,
  mulDivMicros,
  ONE_MICROS,
  sumMicros,
} from "./units/micros.js";
export { ROUNDING_METHODS, type RoundingMethod } from "./units/rounding.js";
export {
  type ConvertOptions,
  type Unit,
  type UnitQuantity,
  type UnitRecord,
  type UnitTable,
  unitTable,
} from "./units/table.js";
