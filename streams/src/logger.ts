/** The pino logger of every Threadline process: JSON lines, secrets redacted. */
import { type Logger, pino } from "pino";
import { ConfigError } from "./errors.js";

export type { Logger };

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "pass",
  "*.pass",
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "creds",
  "*.creds",
  "secret",
  "*.secret",
  // The same secrets under their environment names (a config object logged by mistake).
  "NATS_PASSWORD",
  "*.NATS_PASSWORD",
  "NATS_TOKEN",
  "*.NATS_TOKEN",
  "METRICS_TOKEN",
  "*.METRICS_TOKEN",
];

export interface LoggerOptions {
  /** The service name, on every line. */
  service: string;
  /** @default $LOG_LEVEL, else "info" */
  level?: string;
  /** Where lines go. @default stdout */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env["LOG_LEVEL"] ?? "info";
  const opts = {
    level,
    base: { service: options.service },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/**
 * A child of `logger` with `bindings`, leaving out the keys `logger` already binds to the same value.
 * pino concatenates a child's bindings onto its parent's, so a key bound twice (a service binding
 * `consumer`, the consumer binding it again) is written twice on every line: valid JSON to no parser,
 * and the second value silently wins in most. A key already bound to another value is a mistake in
 * the caller's wiring, refused by name rather than written twice.
 */
export function bindOnce(
  logger: Logger,
  bindings: Readonly<Record<string, string | number | boolean>>,
): Logger {
  const bound = logger.bindings();
  const missing: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(bindings)) {
    if (!Object.hasOwn(bound, key)) missing[key] = value;
    else if (bound[key] !== value)
      throw new ConfigError(
        "logger",
        `binds ${key}=${JSON.stringify(bound[key])}, but ${key} is ${JSON.stringify(value)} here: leave ${key} out of the logger given (it is bound where it is known)`,
      );
  }
  return Object.keys(missing).length > 0 ? logger.child(missing) : logger;
}

/** A logger that drops everything, for libraries used without one. */
export const silentLogger: Logger = pino({ level: "silent" });
