/**
 * What the machine bridge declares about itself: the events it publishes, where it resumes from (the
 * last message of each machine's subjects) and its status bucket. It owns no durable: it only
 * publishes. `threadline streams plan|apply|k8s|permissions` read it (tools/manifests.ts).
 */
import { MACHINE_COMMANDS_ALL, serviceManifest } from "../../../streams/src/index.js";

export const machineBridgeManifest = serviceManifest({
  service: "machine-bridge",
  // The plant file (BRIDGE_CONFIG) says pkiFolder: /var/lib/threadline/pki, where its OPC UA
  // application certificate lives: a PVC per pod, so servers that trust it keep trusting it after a
  // reschedule (each replica has its own certificate: the servers must trust both, see the README).
  deployment: {
    entry: "dist/services/machine-bridge/src/main.js",
    port: 9464,
    // Each endpoint runs on the replica holding its lease (WorkShares); the other replica takes over
    // within LEASE_TTL_MS + a third of it. Two, fixed: more copies would not read any machine faster.
    singleton: false,
    replicas: 2,
    secrets: ["METRICS_TOKEN"],
    settings: { BRIDGE_CONFIG: "/etc/threadline/machine-bridge/plant.yaml" },
    volumes: [{ name: "pki", mountPath: "/var/lib/threadline/pki", size: "1Gi" }],
    egress: [{ to: "*", port: 4840 }],
    resources: { cpu: "500m", memory: "512Mi" },
  },
  description: "OPC UA machines -> machine states, downtimes, production counts, telemetry, alarms, status",
  publishes: [
    "mfg.machine.machine_state_changed.v1",
    "mfg.machine.downtime_started.v1",
    "mfg.machine.downtime_ended.v1",
    "mfg.machine.telemetry_sampled.v1",
    "mfg.machine.connector_status_changed.v1",
    // OPC UA Alarms & Conditions of the machines' notifiers
    "mfg.machine.alarm_raised.v1",
    "mfg.machine.alarm_acknowledged.v1",
    "mfg.machine.alarm_cleared.v1",
    "mfg.production.production_reported.v1",
    // the counting point moved to another order or lot
    "mfg.production.production_run_ended.v1",
    // the audit of each command to a machine (src/commands.ts)
    "mfg.machine.machine_command_executed.v1",
  ],
  access: {
    // Where each machine resumes: its last state, downtime and production report.
    readsLast: ["MFG_MACHINE", "MFG_PRODUCTION"],
    // Live endpoint status and heartbeat (machine-bridge.<connectorId>.<endpoint>), and the replicas'
    // endpoint leases and membership (lease.|member.machine-bridge.<connectorId>.*).
    kvWrite: ["THREADLINE_CONNECTOR_STATE"],
    // Commands to its machines (threadline.cmd.machine.<site>.<line>.<machine>), answered once each.
    servesCommands: [MACHINE_COMMANDS_ALL],
  },
});
