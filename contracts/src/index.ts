/**
 * The public entry point of `contracts/`: everything streams/, services/ and tools/ may use of the
 * canonical events, their codec and the schema registry. Code outside contracts/ imports from here
 * and never from a file beside it (test/architecture.test.ts enforces this).
 *
 * Exports are listed by name, never `export *`, so nothing leaks by accident and adding to the surface
 * is a visible change. Files inside contracts/ import each other directly, never through this file.
 */

// Avro values: schemas parsed with Threadline's logical types, exact decimals, and the JSON form of a
// payload (the CLI's input and output).
export { type AvroType, formatDecimal, parseDecimal, parseSchemaText } from "./avro.js";
// The catalog on disk: the .avsc files, where they live, and the rules every contract must follow.
export { Catalog, type EventContract, snakeCase } from "./catalog.js";
// The wire format: Avro single-object encoding, decoded with writer -> reader schema resolution.
export { type DecodedEvent, EventCodec } from "./codec.js";
// Schema evolution: the compatibility modes and the check the registry runs on registration.
export {
  type AvroSchema,
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
  DEFAULT_COMPATIBILITY_MODE,
  formatReport,
} from "./compatibility.js";
// Errors: the one catalogue of codes (area, meaning, what to do; docs/errors.md is rendered from it),
// the base class of every Threadline error (a catalogued `code`, the `cause` kept) and the failure a
// caller of the codec handles itself.
export {
  type CatalogedErrorCode,
  describeErrorCode,
  ERROR_AREAS,
  ERROR_CATALOG,
  type ErrorArea,
  type ErrorCatalogEntry,
  type ErrorCode,
  isCatalogedErrorCode,
  ODOO_PATTERN,
  type OdooErrorCode,
  odooExceptionCode,
} from "./error-catalog.js";
export { PayloadInvalidError, ThreadlineError, UnknownFingerprintError } from "./errors.js";
// The payload of each event of the catalog.
// The records and enums payloads are made of.
export type {
  Alarm,
  AlarmAcknowledged,
  AlarmCleared,
  AlarmRaised,
  BillOfMaterials,
  BomByProduct,
  BomLine,
  BomOperation,
  BomType,
  CommandOutcome,
  ComponentAvailability,
  ComponentRequirement,
  ConnectorStatusChanged,
  Consumption,
  DispatchOutcome,
  DowntimeCategory,
  DowntimeEnded,
  DowntimeStarted,
  EquipmentPath,
  GoodsMovementPosted,
  InspectionKind,
  InspectionRecorded,
  InspectionRequested,
  Location,
  LocationUsage,
  LotRegistered,
  MachineCommand,
  MachineCommandExecuted,
  MachineDispatch,
  MachineStateChanged,
  MaterialAvailability,
  MaterialConsumed,
  MaterialShortageDetected,
  MaterialState,
  MovementType,
  NonconformanceRaised,
  OrderDispatched,
  OrderField,
  OrderState,
  OrderStep,
  OrderStepChanged,
  OrderStepOverdue,
  PackMlMode,
  PackMlState,
  Partner,
  Product,
  ProductionOrderChanged,
  ProductionOrderCompleted,
  ProductionOrderReleased,
  ProductionPosted,
  ProductionReported,
  ProductionRunEnded,
  ProductRef,
  QualityHoldPlaced,
  QualityHoldReleased,
  Quantity,
  ReturnedComponent,
  RunEndReason,
  RunningPeriod,
  SampleDataType,
  SampleQuality,
  ShipmentBlocked,
  ShipmentCancelled,
  ShipmentCleared,
  ShipmentLine,
  ShipmentRequested,
  Shortage,
  SpcPoint,
  SpcRuleSet,
  SpcViolationDetected,
  SpcViolationEnded,
  StopReason,
  TelemetrySample,
  TelemetrySampled,
  Tracking,
  UnbuildPosted,
  Unit,
  UnitType,
  WaitReason,
  WorkCenter,
} from "./events.generated.js";
// The event catalog as TypeScript (generated from the .avsc files): every event type, its payload by
// `ce-type`, and the closed sets (Avro enums) a service maps to and from.
export {
  DOWNTIME_CATEGORY_SYMBOLS,
  EVENT_TYPES,
  type EventInputs,
  type EventPayloads,
  type EventType,
  ORDER_STEP_SYMBOLS,
  PACK_ML_MODE_SYMBOLS,
  PACK_ML_STATE_SYMBOLS,
  WAIT_REASON_SYMBOLS,
} from "./events.generated.js";
export { fromJson, toJson } from "./json.js";
export { lintContract } from "./lint.js";
export { PACKAGE_ROOT, SCHEMAS_DIR } from "./paths.js";

// The schema registry: a JetStream KV bucket of subjects, versions and schema texts by fingerprint.
export { REGISTRY_BUCKET, SchemaRegistry } from "./registry.js";
