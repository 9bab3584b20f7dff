/**
 * What the orchestrator's tests share: a site and its line, a release and its material availability,
 * a stand-in for the bridge answering machine commands, and the steps an order went through.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { MaterialAvailability, ProductionOrderReleased } from "../../contracts/src/index.js";
import type { MachineCommandReply, MachineCommandRequest } from "../../streams/src/index.js";
import { storedEvents } from "../harness/events.js";

export const SITE = "plant1";
export const units = (value: string) => ({ value, uom: "Units" });
export const product = (code: string, odooId: bigint) => ({ code, name: code, odooId });
export const line1 = { site: SITE, area: null, line: "line1", cell: null, machine: null };

export function materials(reservedJars: string): MaterialAvailability {
  return {
    state: reservedJars === "1200" ? "AVAILABLE" : "PARTIAL",
    components: [
      {
        product: product("STRAWB", 11n),
        required: { value: "444", uom: "kg" },
        reserved: { value: "444", uom: "kg" },
      },
      { product: product("JAR-370", 12n), required: units("1200"), reserved: units(reservedJars) },
    ],
  };
}

export function release(orderRef: string, o: Partial<ProductionOrderReleased> = {}): ProductionOrderReleased {
  return {
    orderRef,
    odooOrderId: 42n,
    product: product("JAM-370", 7n),
    quantity: units("1200"),
    plannedStartAt: new Date(),
    plannedEndAt: null,
    equipment: line1,
    workCenterCode: "L1",
    lotToProduce: `LOT-${orderRef.replaceAll("/", "-")}`,
    components: [],
    origin: null,
    materials: materials("1200"),
    releasedAt: new Date(),
    ...o,
  };
}

/** A stand-in for the bridge: answers each machine's command, REFUSED the first time for `refuseOnce`. */
export function fakeBridge(nc: NatsConnection, refuseOnce: string) {
  const received: { machine: string; request: MachineCommandRequest }[] = [];
  const sub = nc.subscribe(`threadline.cmd.machine.${SITE}.>`);
  void (async () => {
    for await (const m of sub) {
      const machine = m.subject.split(".").at(-1) as string;
      const request = m.json<MachineCommandRequest>();
      received.push({ machine, request });
      const refused = machine === refuseOnce && received.filter((r) => r.machine === machine).length === 1;
      const reply: MachineCommandReply = {
        requestId: request.requestId,
        outcome: refused ? "REFUSED" : "CONFIRMED",
        message: refused ? "BadInvalidState: the machine is running another order" : null,
        attempts: 1,
        auditEventId: request.requestId,
      };
      m.respond(JSON.stringify(reply));
    }
  })();
  return { received, stop: () => sub.unsubscribe() };
}

export type Steps = { step: string; waitingFor: string | null; reason: string | null }[];
export async function stepsOf(nc: NatsConnection, orderRef: string): Promise<Steps> {
  return (await storedEvents(nc, "mfg.production.order_step_changed.v1", SITE))
    .filter((e) => e.value.orderRef === orderRef)
    .map((e) => ({ step: e.value.step, waitingFor: e.value.waitingFor, reason: e.value.reason }));
}
export const last = (s: Steps) => s.at(-1);
