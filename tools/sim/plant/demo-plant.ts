/**
 * The built-in demo plant of `threadline sim plant` (used when no --config is given): one site,
 * two lines of three machines, cycle times of 1–3 s, a few stop reasons, telemetry with a small
 * chance of out-of-control runs, orders and lots set. The one source of truth for the demo: copy
 * it into a YAML file (same keys) to start a config of your own.
 */
import type { PlantConfigInput } from "./config.js";

type MachineInput = NonNullable<PlantConfigInput["sites"]>[number]["lines"][number]["machines"][number];
type StopReasonInput = NonNullable<MachineInput["stopReasons"]>[number];

const telemetry = (temperature: number, pressure: number, speed: number): MachineInput["telemetry"] => [
  { name: "temperature", unit: "Cel", mean: temperature, sd: 0.4, driftPerHour: 0.5 },
  { name: "pressure", unit: "bar", mean: pressure, sd: 0.05 },
  { name: "speed", unit: "1/min", mean: speed, sd: 0.8 },
];

const jam: StopReasonInput = {
  code: "E-104",
  text: "Infeed jam",
  probability: 0.01,
  durationMs: [5_000, 20_000],
};
const door: StopReasonInput = {
  code: "E-200",
  text: "Guard door open",
  probability: 0.004,
  durationMs: [10_000, 30_000],
  kind: "stop",
};
const material: StopReasonInput = {
  code: "M-010",
  text: "Out of material",
  probability: 0.003,
  durationMs: [15_000, 45_000],
};

const outOfControl = { probability: 0.01, length: 8, shiftSd: 1 };

export const DEMO_PLANT: PlantConfigInput = {
  seed: 1,
  sites: [
    {
      id: "plant-lyon",
      lines: [
        {
          id: "line-1",
          machines: [
            {
              id: "filler-1",
              cycleTimeMs: 1_200,
              rejectRate: 0.02,
              telemetry: telemetry(82, 4.2, 50),
              outOfControl,
              stopReasons: [jam, door],
              order: "WH/MO/00042",
              lot: "LOT-2024-0042",
            },
            {
              id: "capper-1",
              cycleTimeMs: 1_500,
              rejectRate: 0.01,
              telemetry: telemetry(35, 6.0, 40),
              outOfControl,
              stopReasons: [jam],
              order: "WH/MO/00042",
              lot: "LOT-2024-0042",
            },
            {
              id: "labeler-1",
              cycleTimeMs: 2_000,
              rejectRate: 0.015,
              telemetry: telemetry(28, 2.5, 30),
              outOfControl,
              stopReasons: [material],
              order: "WH/MO/00042",
              lot: "LOT-2024-0042",
              stateNumbering: "packtags",
            },
          ],
        },
        {
          id: "line-2",
          machines: [
            {
              id: "mixer-2",
              cycleTimeMs: 3_000,
              rejectRate: 0.005,
              telemetry: telemetry(65, 1.8, 120),
              outOfControl,
              stopReasons: [material, door],
              order: "WH/MO/00043",
              lot: "LOT-2024-0043",
            },
            {
              id: "oven-2",
              cycleTimeMs: 2_500,
              rejectRate: 0.03,
              telemetry: telemetry(180, 1.1, 12),
              outOfControl,
              stopReasons: [door],
              order: "WH/MO/00043",
              lot: "LOT-2024-0043",
            },
            {
              id: "packer-2",
              cycleTimeMs: 1_000,
              rejectRate: 0.01,
              telemetry: telemetry(30, 5.5, 60),
              outOfControl,
              stopReasons: [jam, material],
              order: "WH/MO/00043",
              lot: "LOT-2024-0043",
            },
          ],
        },
      ],
    },
  ],
};
