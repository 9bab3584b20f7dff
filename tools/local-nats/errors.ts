/**
 * Errors of tools/local-nats: one class per failure, each with a stable `code`, a message that says
 * what to do next, and the `cause` kept.
 */

/** Stable machine-readable error codes of this module. */
export type LocalNatsErrorCode =
  | "NATS_SERVER_NOT_FOUND"
  | "NATS_SERVER_START_FAILED"
  | "NATS_SERVER_READY_TIMEOUT"
  | "NATS_SERVER_STOP_FAILED"
  | "NATS_SERVER_DISPOSED"
  | "NATS_PORT_ALLOCATION_FAILED"
  | "NATS_CLUSTER_NOT_READY"
  | "NATS_LEAF_LINK_TIMEOUT";

/** Base class of every error thrown by this module; `code` is stable, `cause` is preserved. */
export class NatsServerError extends Error {
  readonly code: LocalNatsErrorCode;
  constructor(code: LocalNatsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No `nats-server` binary could be found (or installed). The message says how to install it. */
export class NatsServerNotFoundError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATS_SERVER_NOT_FOUND", message, options);
  }
}

/** The server process could not be spawned or exited before it became ready. */
export class NatsServerStartError extends NatsServerError {
  constructor(
    message: string,
    /** Last lines of the server log at the time of failure. */
    readonly logTail: string,
    readonly exitCode: number | null = null,
    readonly signal: NodeJS.Signals | null = null,
    options?: { cause?: unknown },
  ) {
    super("NATS_SERVER_START_FAILED", message, options);
  }

  /** True when the server failed because one of its ports was taken. */
  get addressInUse(): boolean {
    return /address already in use/i.test(this.logTail);
  }
}

/** The server process is running but did not report healthy within the timeout. */
export class NatsServerReadyTimeoutError extends NatsServerError {
  constructor(
    message: string,
    readonly logTail: string,
    options?: { cause?: unknown },
  ) {
    super("NATS_SERVER_READY_TIMEOUT", message, options);
  }
}

/** The server did not exit even after SIGKILL. */
export class NatsServerStopError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATS_SERVER_STOP_FAILED", message, options);
  }
}

/** The handle was disposed (its storage is gone); create a new server instead. */
export class NatsServerDisposedError extends NatsServerError {
  constructor(message: string) {
    super("NATS_SERVER_DISPOSED", message);
  }
}

/** No free port could be obtained from the OS. */
export class NatsPortAllocationError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATS_PORT_ALLOCATION_FAILED", message, options);
  }
}

/** The cluster did not elect a JetStream meta leader (or not all nodes agreed) in time. */
export class NatsClusterNotReadyError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATS_CLUSTER_NOT_READY", message, options);
  }
}

/** The leaf node did not (dis)connect to the hub in time. */
export class NatsLeafLinkTimeoutError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATS_LEAF_LINK_TIMEOUT", message, options);
  }
}
