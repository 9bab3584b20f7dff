/**
 * A service's entry point: start it, or end the process with one line saying why.
 *
 * ```ts
 * if (import.meta.url === `file://${process.argv[1]}`)
 *   await startOrExit(machineBridgeManifest.service, () => startMachineBridgeService());
 * ```
 *
 * A start that fails (a wrong setting, NATS unreachable or refusing the credentials, a declared stream
 * or durable missing, the HTTP port taken, setup throwing) writes ONE JSON log line at level `fatal`
 * — `code` (from contracts/src/error-catalog.ts), `action` (the catalogue's "what to do"), the
 * setting's `key` when one is wrong, and the error's message as `msg` — then exits with
 * {@link START_FAILURE_EXIT_CODE}. Without it, Node prints the rejection as a multi-line stack trace,
 * which a log pipeline splits into lines that parse as nothing.
 *
 * No stack trace by default: an operator needs the code and the message, and a stack would only be
 * the SDK's internals. `LOG_LEVEL=debug` (or `trace`) adds the error as pino's `err` (type, message,
 * stack, causes): the level that already means "show me the details" is the one knob.
 */
import { describeErrorCode, ThreadlineError } from "../../contracts/src/index.js";
import { ConfigError, StartFailedError } from "./errors.js";
import { createLogger } from "./logger.js";

/** The exit code of a failed start (any cause: the log line's `code` says which). */
export const START_FAILURE_EXIT_CODE = 1;

/** Log levels that add the stack to the failure line. */
const DETAILED_LEVELS = new Set(["debug", "trace"]);
const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export interface StartOrExitOptions {
  /** Read for LOG_LEVEL (the config may have failed before it was read). @default process.env */
  env?: Record<string, string | undefined>;
  /** Where the line goes: where the service's other lines go. @default stdout */
  destination?: NodeJS.WritableStream;
  /** Ends the process; tests give their own. @default process.exit */
  exit?: (code: number) => never;
}

/** Runs `start`; when it throws, logs the one failure line and exits (see the module header). */
export async function startOrExit<T>(
  service: string,
  start: () => Promise<T>,
  options: StartOrExitOptions = {},
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    logStartFailure(service, err, options);
    return (options.exit ?? process.exit)(START_FAILURE_EXIT_CODE);
  }
}

/** Writes the failure line of a start that threw `err`. */
export function logStartFailure(service: string, err: unknown, options: StartOrExitOptions = {}): void {
  const env = options.env ?? process.env;
  // LOG_LEVEL may be the very setting that is wrong: then the line is written at the default level.
  const wanted = env["LOG_LEVEL"] ?? "";
  const level = LEVELS.has(wanted) ? wanted : "info";
  const logger = createLogger({
    service,
    level,
    ...(options.destination ? { destination: options.destination } : {}),
  });
  const error = err instanceof ThreadlineError ? err : new StartFailedError(err);
  const entry = describeErrorCode(error.code);
  logger.fatal(
    {
      code: error.code,
      ...(error instanceof ConfigError ? { key: error.key } : {}),
      ...(entry ? { action: entry.action } : {}),
      ...(DETAILED_LEVELS.has(level) ? { err } : {}),
    },
    `cannot start: ${error.message}`,
  );
  logger.flush();
}
