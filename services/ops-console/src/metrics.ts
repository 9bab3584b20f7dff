/** The ops console's metrics (docs/metrics.md). */
import { Counter, type Registry } from "prom-client";
import { perRegistry } from "../../../streams/src/index.js";

export interface ConsoleMetrics {
  /** A stored message a page could not read as an event, counted once per message. */
  unreadable(stream: string): void;
}

export const consoleMetrics = perRegistry((registry: Registry): ConsoleMetrics => {
  const unreadable = new Counter({
    name: "threadline_console_unreadable_messages_total",
    help: "Stored messages the console's pages could not read as events (skipped on the page, logged once), by stream",
    labelNames: ["stream"],
    registers: [registry],
  });
  return { unreadable: (stream) => unreadable.inc({ stream }) };
});
