/**
 * Where a machine's events left off, read back from the streams themselves: the last state, an
 * open downtime, the counter values of the last ProductionReported. The streams are the only
 * record: nothing can be published without being there, so a bridge that crashed right after a
 * publish resumes exactly after it — no separate cursor that could lag behind.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { EventCodec, EventPayloads, EventType } from "../../../contracts/src/index.js";
import { domainStream, subjectFor } from "../../../streams/src/index.js";
import type { ResumePoint } from "./machine.js";

export interface MachineRoute {
  readonly site: string;
  readonly line: string;
  readonly machine: string;
}

async function lastOf<K extends EventType>(
  jsm: JetStreamManager,
  codec: EventCodec,
  type: K,
  route: MachineRoute,
): Promise<{ seq: number; value: EventPayloads[K] } | undefined> {
  const subject = subjectFor(type, route.site, route.line, route.machine);
  const stream = domainStream(type.split(".")[1] as string);
  const msg = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (!msg) return undefined;
  const decoded = await codec.decode<EventPayloads[K]>(msg.data, { as: type });
  return { seq: msg.seq, value: decoded.value };
}

/** Where a machine resumes, and the stream sequence of the report it resumes after (0: none). */
export type ResumeRead = ResumePoint & { readonly productionSequence: number };

/**
 * Reads the resume point of one machine; empty for a machine never seen. `running`: the machine
 * has a running signal, whose last known value follows from the downtimes and the running time
 * of the last report (there is no state event to read it from). `productionSequence` comes from
 * the same read as the counters, so a report published with it as the expected last sequence of
 * its subject is stored only if nobody reported the machine since (the fence of bridge.ts).
 */
export async function readResumePoint(
  jsm: JetStreamManager,
  codec: EventCodec,
  route: MachineRoute,
  options: { running?: boolean } = {},
): Promise<ResumeRead> {
  const [state, started, ended, production] = await Promise.all([
    lastOf(jsm, codec, "mfg.machine.machine_state_changed.v1", route),
    lastOf(jsm, codec, "mfg.machine.downtime_started.v1", route),
    lastOf(jsm, codec, "mfg.machine.downtime_ended.v1", route),
    lastOf(jsm, codec, "mfg.production.production_reported.v1", route),
  ]);
  const resume: ResumePoint & { productionSequence: number } = { productionSequence: production?.seq ?? 0 };
  if (state) resume.state = { state: state.value.state, at: state.value.changedAt };
  if (
    started &&
    (!ended || ended.value.downtimeId !== started.value.downtimeId) &&
    (!ended || ended.seq < started.seq)
  )
    resume.openDowntime = {
      downtimeId: started.value.downtimeId,
      startedAt: started.value.startedAt,
      reason: started.value.reason,
    };
  if (production)
    resume.production = {
      good: production.value.goodCounterTo,
      reject: production.value.rejectCounterTo,
      at: production.value.reportedAt,
    };
  if (options.running) {
    // The latest of: a downtime still open (not running since it started), a downtime ended
    // (running since), the last report (running at its end when its last stretch reaches it).
    const known: { running: boolean; at: Date }[] = [];
    if (resume.openDowntime) known.push({ running: false, at: resume.openDowntime.startedAt });
    else if (ended) known.push({ running: true, at: ended.value.endedAt });
    if (production) {
      const last = production.value.running.at(-1);
      const at = production.value.reportedAt;
      known.push({ running: last?.endedAt.getTime() === at.getTime(), at });
    }
    // At the same time, a stop wins: a report made as the machine stopped ends its last stretch then.
    const latest = known.sort(
      (a, b) => b.at.getTime() - a.at.getTime() || Number(a.running) - Number(b.running),
    )[0];
    if (latest) resume.running = latest;
  }
  return resume;
}
