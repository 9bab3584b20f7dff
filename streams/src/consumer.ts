/**
 * The consuming half of the runtime SDK: a durable pull consumer that decodes events with schema
 * resolution, runs typed handlers with bounded concurrency and a bounded buffer, acknowledges on success,
 * retries transient failures with backoff, dead-letters poison messages to `MFG_DLQ` and carries on.
 *
 * ```ts
 * const consumer = createEventConsumer(nc, {
 *   stream: "MFG_PRODUCTION",
 *   durable: "erp-poster",
 *   ordered: true, // postings to one production order never reorder
 *   handlers: {
 *     "mfg.production.production_reported.v1": async (event, ctx) => postToErp(event.value, ctx.signal),
 *   },
 * });
 * await consumer.start();
 * handleSignals(consumer, { beforeExit: () => nc.drain() });
 * ```
 *
 * Semantics (what a service team can rely on):
 * - Bounds. At most `concurrency` handlers run at once, and at most `maxBuffered` deliveries are in
 *   memory or on their way — requested from the server and not yet arrived, received by the client and
 *   not taken yet, buffered, running, waiting behind their key or waiting for an in-place retry, all
 *   counted — so memory stays flat whatever the backlog.
 * - Pulling. One nats.js `consume()` at a time keeps pull requests in flight ahead of the handlers, with
 *   `max_messages` = the client's share of the buffer (half of `maxBuffered`, at most `maxBuffered -
 *   concurrency`). nats.js sends each follow-up pull request only when its iterator is advanced past
 *   it, so the client never has more than its share requested or received, and the consumer advances
 *   the iterator only while `held + share ≤ maxBuffered`: not taking is the back-pressure. When the SDK
 *   is full, the client holds received messages and nothing it asked for is in flight, the consume is
 *   stopped and its messages are handed over to the SDK: all of `maxBuffered` then buffers (slow
 *   handlers, a blocked key) and their ack deadline is kept alive like any held message's. A new
 *   consume starts once there is room for a whole share again. Acks of one event-loop turn are written
 *   to the socket together at its end.
 * - Outcomes. Success: ack. Transient failure (any error not marked permanent): `nak(delay)` with
 *   exponential backoff + jitter by delivery count. Permanent failure ({@link PermanentError}, or any
 *   error with `retryable === false`), undecodable bytes, unknown writer schema, invalid CloudEvents
 *   headers, a failure on the last allowed delivery (`maxDeliver`): published to `MFG_DLQ` on
 *   `dlqSubject(stream, durable)` with the original data and headers plus the `DLQ_HEADERS` (see
 *   `dead-letter.ts`: `readDeadLetter` reads them back), with
 *   `Nats-Msg-Id` `<stream>:<seq>` (a redelivered poison is not dead-lettered twice), the PubAck awaited,
 *   and only then the original terminated. If the dead-letter publish fails the original is nak'd:
 *   nothing is lost. Every outcome is counted (`threadline_events_consumed_total{outcome}`) and logged
 *   with the event id, type and key.
 * - Per-key ordering (`ordered: true`). Parallel across keys, serial within a key (the `ce-subject`
 *   header, or `orderingKey`), in stream-sequence order, within this process. A transient failure is
 *   retried IN PLACE (the message is kept, its ack deadline extended, the key blocked) instead of nak'd,
 *   so a later event of the same key can never overtake it; `maxDeliver` counts deliveries plus in-place
 *   retries. A dead-lettered event does not block its key. Later events of a blocked key stay buffered
 *   and count against `maxBuffered`: if they fill it, every key waits (back-pressure, by design; an
 *   outage of what the handlers call is what `pause()` is for). Ordering across replicas that share the
 *   durable is NOT guaranteed (the server hands any message to any replica): for that, partition it.
 * - Partitions (`partitions`, run by `startConsumers` or `createPartitionedConsumer`). A durable
 *   declared with `partitions: P` is P durables `<durable>-p<i>`; replicas share them through
 *   WorkShares, one owner per partition, and the owner of partition i handles only the messages whose
 *   ordering key hashes to i (`partitions.ts`), acknowledging the others without a handler (outcome
 *   `other_partition`, `stats().otherPartition`). Per-key order then holds across replicas. A lost
 *   partition's consumer stops like `stop()` below; a new owner first waits for the previous one's
 *   deliveries (`partitioned-consumer.ts`).
 * - Pause. `pause()` stops the consume and starts no new handler; running handlers finish. Buffered
 *   messages, and those the client had already received, are HELD (their ack deadline kept alive) by
 *   default, because a nak would count a delivery and a flapping circuit breaker would push innocent
 *   events towards `maxDeliver`; `pauseMode: "release"` naks them instead. The backlog waits in the
 *   stream. `resume()` starts a new consume and continues in order.
 * - Shutdown. `stop()` stops the consume, naks (without delay) what was received or buffered but not
 *   started so another replica takes it at once, lets running handlers finish and ack until the
 *   deadline, then aborts their `ctx.signal` and naks their messages. A handler's result after the
 *   deadline is ignored.
 * - Recovery. A disconnect stops the consume and the reconnect starts a new one. Missed heartbeats, a
 *   deleted durable, no responders (server restart) or a refused pull end the consume as failed: the
 *   consumer backs off, checks the durable and starts a new consume, forever, reporting on `status()`
 *   and in logs. (nats.js would re-pull a whole share by itself on missed heartbeats, on top of pull
 *   requests that may still be alive; a new consume has a new inbox, which keeps the bound strict.) A
 *   deleted durable is recreated from the configuration it had at start, starting after the last known
 *   ack floor (events between the floor and the deletion are handled again: at-least-once).
 *
 * Where each part lives (`consumer/`):
 * - `types.ts` — the public types: event, handler context, states, outcomes, status, stats.
 * - `options.ts` — options, `CONSUMER_DEFAULTS`, their checks, and the settings taken from the durable.
 * - `errors.ts` — the consumer's errors, `PermanentError` / `RetryableError` for handlers.
 * - `event-consumer.ts` — `EventConsumer`: wires the parts below together, processes and settles messages.
 * - `lifecycle.ts` — the state machine (`TRANSITIONS`), every transition logged and reported.
 * - `pull-session.ts` — one `consume()`: taking within the bound, hand-over, draining when it ends.
 * - `recovery.ts` — pull errors, durable checks and recreation, a missing stream, disconnects.
 * - `key-scheduler.ts` — the held messages, concurrency, per-key ordering, retry in place.
 * - `handling.ts` — the event and context a handler gets; what its failure means.
 * - `dead-lettering.ts` — publishing dead letters (headers from `../dead-letter.ts`), first failures.
 * - `acks.ts`, `meter.ts`, `notifier.ts`, `waker.ts` — acks per turn, metrics, `status()`, wake-ups.
 * - `signals.ts` — `handleSignals`: graceful shutdown on SIGTERM / SIGINT.
 */
export {
  ConsumerErrorCode,
  ConsumerSetupError,
  IllegalStateError,
  isRetryable,
  PermanentError,
  RetryableError,
  ShutdownAbortError,
} from "./consumer/errors.js";
export { createEventConsumer, startEventConsumer } from "./consumer/event-consumer.js";
export {
  CONSUMER_DEFAULTS,
  type ConsumerOptions,
  type PartitionAssignment,
  type PartitionsOptions,
} from "./consumer/options.js";
export { type HandleSignalsOptions, handleSignals, type Stoppable } from "./consumer/signals.js";
export type {
  ConsumedEvent,
  ConsumerOutcome,
  ConsumerState,
  ConsumerStats,
  ConsumerStatus,
  EventConsumer,
  EventHandler,
  EventHandlers,
  HandlerContext,
} from "./consumer/types.js";
