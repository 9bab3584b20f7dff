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
