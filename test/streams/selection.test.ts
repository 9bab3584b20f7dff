/**
 * The selection language of the ops and analyst commands: flags as typed become one stream, a
 * server-side filter and local matches; a wrong flag is a ConfigError naming it, before anything is read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { headers } from "@nats-io/nats-core";
import { ConfigError, matchesSelection, parseSelection, parseTime } from "../../streams/src/index.js";

const NOW = Date.parse("2026-12-04T12:00:00Z");

test("selection - an event type names its stream and filter; relative and ISO times; a sequence range", () => {
  const s = parseSelection(
    {
      type: "mfg.production.production_reported.v1",
      since: "2h",
      until: "2026-12-04T11:30:00Z",
      key: "WH/MO/00042",
    },
    NOW,
  );
  assert.equal(s.stream, "MFG_PRODUCTION");
  assert.equal(s.filter, "mfg.production.production_reported.>");
  assert.equal(s.since?.toISOString(), "2026-12-04T10:00:00.000Z");
  assert.equal(s.until?.toISOString(), "2026-12-04T11:30:00.000Z");
  const r = parseSelection({ stream: "MFG_MACHINE", seq: "100-250", line: "line-1" }, NOW);
  assert.deepEqual([r.fromSequence, r.toSequence, r.filter], [100, 250, undefined]);
  assert.deepEqual(
    [
      parseSelection({ stream: "X", seq: "7-" }).fromSequence,
      parseSelection({ stream: "X", seq: "-9" }).toSequence,
    ],
    [7, 9],
  );
  assert.equal(parseSelection({ subject: "mfg.quality.>" }).stream, "MFG_QUALITY");
  assert.equal(parseTime("--since", "90s", NOW).toISOString(), "2026-12-04T11:58:30.000Z");
});

test("selection - a wrong flag is refused naming it", () => {
  const refused = (input: Parameters<typeof parseSelection>[0], flag: string, pattern: RegExp) =>
    assert.throws(
      () => parseSelection(input, NOW),
      (e: unknown) => e instanceof ConfigError && e.message.includes(flag) && pattern.test(e.message),
    );
  refused({ type: "mfg.production.nope.v1" }, "--type", /not an event type/);
  refused({ stream: "MFG_PRODUCTION", since: "yesterday" }, "--since", /not a time/);
  refused({ stream: "MFG_PRODUCTION", seq: "9-3" }, "--seq", /ends before it starts/);
  refused({ stream: "MFG_PRODUCTION", seq: "abc" }, "--seq", /FROM-TO/);
  refused({}, "--stream", /required/);
  refused({ stream: "MFG_PRODUCTION", since: "1h", until: "2h" }, "--until", /before --since/);
  refused(
    { type: "mfg.production.production_reported.v1,mfg.machine.downtime_started.v1" },
    "--type",
    /several streams/,
  );
});

test("selection - type, key and equipment tokens are matched on each message", () => {
  const s = parseSelection({ stream: "MFG_PRODUCTION", key: "WH/MO/1", line: "line-1", machine: "m2" });
  const h = headers();
  h.set("ce-type", "mfg.production.production_reported.v1");
  h.set("ce-subject", "WH/MO/1");
  assert.equal(
    matchesSelection(s, { subject: "mfg.production.production_reported.plant.line-1.m2", headers: h }),
    true,
  );
  assert.equal(
    matchesSelection(s, { subject: "mfg.production.production_reported.plant.line-1.m3", headers: h }),
    false,
  );
  h.set("ce-subject", "WH/MO/2");
  assert.equal(
    matchesSelection(s, { subject: "mfg.production.production_reported.plant.line-1.m2", headers: h }),
    false,
  );
});
