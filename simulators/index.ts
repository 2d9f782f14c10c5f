/** The public face of simulators/: what other roles may use (docs/architecture.md). */
export { SIMULATORS, getSimulator } from './all.ts';
export { SimulatorError } from './errors.ts';
export { createFleetSimulation, demoFleet, type FleetEntry } from './fleet.ts';
export { mulberry32 } from './random.ts';
export { createSimRunner, generate, type SimMessage, type SimRunner } from './runner.ts';
export { SCENARIOS, getScenario, seasonShiftTo, type ExpectedAlert } from './scenarios.ts';
export { groundTruth, type GroundTruth } from './truth.ts';
export { simRegistration } from './types.ts';
