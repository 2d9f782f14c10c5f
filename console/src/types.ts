/**
 * Shapes of the API answers the page reads: the contract's views (core/views.ts, the zod schemas
 * the API answers with), imported as types only (esbuild drops them from the bundle).
 */
export type { Domain } from '../../core/ids.ts';
export type { AlertState, Severity } from '../../core/alert.ts';
/** An alert as the API and the stream show it. */
export type { AlertMessage as Alert } from '../../core/alert.ts';
export type {
  AlertHistoryView as HistoryEntry,
  AlertStreamEvent,
  ConsoleConfigView as ConsoleConfig,
  ConsoleThreshold as Threshold,
  LatestReading,
  PrincipalView as Principal,
  RejectionView as Rejection,
  SensorView as Sensor,
  SeriesView as Series,
  SilenceView as Silence,
  SiteRichness,
  TrendSpec,
} from '../../core/views.ts';
