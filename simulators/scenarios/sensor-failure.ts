/**
 * `sensor-failure`: about a third of the sensors fail within two days. Silent sensors and sensors
 * sending the -9999 sentinel (refused at ingest, so the rules see nothing) must raise a deadman
 * alert; a sensor stuck on its last values still reports and raises none of its own.
 */
import { hashSeed, unitAt } from '../random.ts';
import type { ScenarioDefinition, ScenarioTruth, SensorFaultMode } from '../scenarios.ts';

const DAY_MS = 86_400_000;

/** Sensors whose readings stop reaching the rules (silent, or rejected at ingest). */
const gone = (t: ScenarioTruth, acoustic: boolean): string[] =>
  t.faults.filter((f) => f.mode !== 'stuck' && (f.kind === 'acoustic-monitor') === acoustic && (acoustic || f.domain !== 'biodiversity')).map((f) => f.sensor);

const sensorFailure: ScenarioDefinition = {
  name: 'sensor-failure',
  description: 'About a third of the sensors fail within two days: some fall silent, some freeze on their last values, some send the -9999 error sentinel.',
  modifiers: () => ({}),
  fault: (sensor, seed) => {
    if (unitAt(hashSeed(seed, sensor.id), 'fault', 0) >= 0.35) return undefined;
    const modes: SensorFaultMode[] = ['silent', 'stuck', 'garbage'];
    const mode = modes[Math.floor(unitAt(hashSeed(seed, sensor.id), 'fault', 1) * modes.length)] ?? 'silent';
    const afterMs = Math.round((2 / 24 + unitAt(hashSeed(seed, sensor.id), 'fault', 2) * 2) * DAY_MS);
    return { mode, afterMs };
  },
  expect: [
    { rule: 'sensor-silent', subject: (t) => gone(t, false), severity: 'warning', window: [0, 3], because: 'the sensor fell silent or sends only values ingest refuses' },
    { rule: 'detector-silent', subject: (t) => gone(t, true), severity: 'warning', window: [0, 3], because: 'the acoustic monitor fell silent or sends only values ingest refuses' },
  ],
  backtestDays: 7,
  // Live, it begins with the replay: the sensors fail 2 to 48 seconds in, while the rules watch.
  liveLeadDays: 0,
};
export default sensorFailure;
