import type { z } from "zod";
import { ThreadlineError } from "../../contracts/src/index.js";

/** A configuration value (env variable, file key or CLI flag) that is missing or wrong. */
export class ConfigError extends ThreadlineError {
  constructor(
    /** The variable, key path or flag that is wrong, e.g. `NATS_URL` or `streams[2].maxAge`. */
    readonly key: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super("CONFIG_INVALID", `${key} ${detail}`, options);
  }

  /** The first zod issue, named by its path (an unknown key by its own path). */
  static fromZod(error: z.ZodError, where: string): ConfigError {
    const issue = error.issues[0];
    if (issue?.code === "unrecognized_keys")
      return new ConfigError([...issue.path, issue.keys[0]].join("."), `in ${where} is not a known setting`, {
        cause: error,
      });
    const key = issue && issue.path.length > 0 ? issue.path.join(".") : where;
    const detail = error.issues.map((i) => `${i.path.join(".") || where}: ${i.message}`).join("; ");
    return new ConfigError(key, `is invalid (${detail})`, { cause: error });
  }
}

/**
 * A service's `setup` threw an error without a code of its own: the start failed there. The cause is
 * kept; the message names the service and what setup said.
 */
export class SetupFailedError extends ThreadlineError {
  constructor(
    readonly service: string,
    cause: unknown,
  ) {
    super("SERVICE_SETUP_FAILED", `${service}'s setup failed: ${describeCause(cause)}`, { cause });
  }
}

/** A start that failed with an error carrying no code: a defect, reported as such (see start.ts). */
export class StartFailedError extends ThreadlineError {
  constructor(cause: unknown) {
    super("SERVICE_START_FAILED", `unexpected error: ${describeCause(cause)}`, { cause });
  }
}

/** `TypeError: x is not a function`: the class name says as much as the message for an uncoded error. */
function describeCause(cause: unknown): string {
  if (cause instanceof Error)
    return cause.name && cause.name !== "Error" ? `${cause.name}: ${cause.message}` : cause.message;
  return String(cause);
}
