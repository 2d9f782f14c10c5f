/** Configuration of the `battery` simulator (the hub battery's management system). */
import { simConfig } from '../define.ts';
import type { z } from 'zod';

/** The battery's size, limits and efficiency are the hub's: environment `energy.battery*`. */
export const configSchema = simConfig(300, {});

export type Config = z.output<typeof configSchema>;
