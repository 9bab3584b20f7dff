/**
 * Errors of tools/local-nats: one class per failure, each with a stable `code` of the catalogue, a
 * message that says what to do next, and the `cause` kept.
 */
import { type CatalogedErrorCode, ThreadlineError } from "../../contracts/src/index.js";

/** Stable machine-readable error codes of this module. */
export const LocalNatsErrorCode = {
  NotFound: "NATS_SERVER_NOT_FOUND",
  StartFailed: "NATS_SERVER_START_FAILED",
  ReadyTimeout: "NATS_SERVER_READY_TIMEOUT",
  StopFailed: "NATS_SERVER_STOP_FAILED",
  Disposed: "NATS_SERVER_DISPOSED",
  PortAllocationFailed: "NATS_PORT_ALLOCATION_FAILED",
  ClusterNotReady: "NATS_CLUSTER_NOT_READY",
  LeafLinkTimeout: "NATS_LEAF_LINK_TIMEOUT",
} as const satisfies Record<string, CatalogedErrorCode>;
export type LocalNatsErrorCode = (typeof LocalNatsErrorCode)[keyof typeof LocalNatsErrorCode];

/** Base class of every error thrown by this module; `code` is stable, `cause` is preserved. */
export class NatsServerError extends ThreadlineError {
  declare readonly code: LocalNatsErrorCode;
  constructor(code: LocalNatsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** No `nats-server` binary could be found (or installed). The message says how to install it. */
export class NatsServerNotFoundError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LocalNatsErrorCode.NotFound, message, options);
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
    super(LocalNatsErrorCode.StartFailed, message, options);
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
    super(LocalNatsErrorCode.ReadyTimeout, message, options);
  }
}

/** The server did not exit even after SIGKILL. */
export class NatsServerStopError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LocalNatsErrorCode.StopFailed, message, options);
  }
}

/** The handle was disposed (its storage is gone); create a new server instead. */
export class NatsServerDisposedError extends NatsServerError {
  constructor(message: string) {
    super(LocalNatsErrorCode.Disposed, message);
  }
}

/** No free port could be obtained from the OS. */
export class NatsPortAllocationError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LocalNatsErrorCode.PortAllocationFailed, message, options);
  }
}

/** The cluster did not elect a JetStream meta leader (or not all nodes agreed) in time. */
export class NatsClusterNotReadyError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LocalNatsErrorCode.ClusterNotReady, message, options);
  }
}

/** The leaf node did not (dis)connect to the hub in time. */
export class NatsLeafLinkTimeoutError extends NatsServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LocalNatsErrorCode.LeafLinkTimeout, message, options);
  }
}
