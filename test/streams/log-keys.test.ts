/**
 * Log lines carry each key once: a service's consumer lines name their service, stream and durable
 * one time each, whichever logger the consumer was given. Checked on the raw text (JSON.parse keeps
 * the last of two equal keys silently, so a parsed line cannot show the bug).
 */

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createEventConsumer } from "../../streams/src/consumer.js";
import { ConfigError } from "../../streams/src/errors.js";
import { bindOnce, createLogger } from "../../streams/src/logger.js";
import { duplicateKeys } from "../harness/json-keys.js";
import { withJetStream } from "../harness/nats.js";
import { runEveryOutcome } from "./fixtures/every-outcome.js";

/** A writable that keeps every line written to it. */
function lineSink(): { stream: PassThrough; lines: string[] } {
  const stream = new PassThrough();
  const lines: string[] = [];
  let rest = "";
  stream.on("data", (d: Buffer) => {
    const parts = (rest + d.toString()).split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts.filter(Boolean));
  });
  return { stream, lines };
}

test("log keys - the duplicate-key check sees what JSON.parse hides", () => {
  const line = '{"service":"s","consumer":"a","msg":"m","consumer":"b","err":{"x":1,"x":2}}';
  assert.equal((JSON.parse(line) as { consumer: string }).consumer, "b");
  assert.deepEqual(duplicateKeys(line), ["$.consumer", "$.err.x"]);
  assert.deepEqual(duplicateKeys('{"a":[{"b":1},{"b":"x\\"y"}],"c":null}'), []);
});

test("log keys - a service's consumer lines carry service, stream and consumer once each, through every outcome", async (t) => {
  const sink = lineSink();
  await runEveryOutcome(t, { logDestination: sink.stream });
  const consumerLines = sink.lines.filter((l) => l.includes('"consumer":'));
  // Every kind of line a consumer writes at debug: transitions, handled, nak'd, retried, dead-lettered,
  // released, and the handler context's lines.
  for (const msg of [
    "consumer created -> running",
    "message acked",
    "handler failed; nak with delay",
    "handler failed; retrying in place (ordered)",
    "message dead-lettered",
    "message released",
    "message skipped",
    "handler's own line",
  ])
    assert.ok(
      consumerLines.some((l) => l.includes(`"msg":"${msg}"`)),
      `no consumer line "${msg}" was captured`,
    );
  const doubled = sink.lines
    .map((l) => ({ line: l, keys: duplicateKeys(l) }))
    .filter((d) => d.keys.length > 0);
  assert.deepEqual(doubled, [], "log lines with a key written twice");
  for (const l of consumerLines) {
    const parsed = JSON.parse(l) as { service: string; consumer: string; stream: string };
    assert.equal(parsed.service, "every-outcome");
    assert.match(parsed.consumer, /^obs-(plain|ordered|paused|part(-p\d+)?)$/);
    assert.equal(parsed.stream, "MFG_MACHINE");
  }
});

test("log keys - a logger already binding the durable is not bound again; one binding another value is refused by name", async (t) => {
  const sink = lineSink();
  const base = createLogger({ service: "svc", level: "info", destination: sink.stream });
  const bound = bindOnce(base.child({ consumer: "orders" }), {
    stream: "MFG_PRODUCTION",
    consumer: "orders",
  });
  bound.info({ seq: 1 }, "hello");
  assert.equal(sink.lines.length, 1);
  assert.deepEqual(duplicateKeys(sink.lines[0] as string), []);
  assert.match(sink.lines[0] as string, /"service":"svc".*"consumer":"orders".*"stream":"MFG_PRODUCTION"/);

  const { nc } = await withJetStream(t);
  assert.throws(
    () =>
      createEventConsumer(nc, {
        stream: "MFG_PRODUCTION",
        durable: "orders",
        handler: async () => {},
        logger: base.child({ consumer: "production" }),
      }),
    (err: unknown) =>
      err instanceof ConfigError && err.key === "logger" && /binds consumer="production"/.test(err.message),
  );
});
