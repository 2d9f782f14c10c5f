/**
 * What the API needs from the other roles, as narrow interfaces the API declares: cli/ wires the
 * implementations (the rules engine, the policy watcher, the console's live state) and the API
 * decorates its root instance with them (`app.alerts`, `app.policy`, `app.console`). A route area
 * is served only when its service is given (no rules engine in this process: no `/alerts`).
 */
import type { AlertEvent } from '../core/alert.ts';
import type { ConsoleThreshold, LatestReading, SiteRichness } from '../core/views.ts';
import type { CompiledPolicy } from '../privacy/index.ts';

/** Alerts and silences (`/api/v1/alerts`, `/api/v1/silences`): the rules engine (core/alert.ts). */
export type { AlertsService } from '../core/alert.ts';
import type { AlertsService } from '../core/alert.ts';

/** The privacy policy in force (`/api/v1/privacy/policy`, and the version on open data). */
export interface PolicyService {
  current(): CompiledPolicy;
}

/** Subscribes a listener; returns the function that unsubscribes it. */
export type Subscribe<T> = (listener: (items: readonly T[]) => void) => () => void;

/** Species per site counted from the readings seen since it began. */
export interface RichnessTally {
  /** Wall clock when the tally began (it knows nothing older), epoch ms. */
  readonly since: number;
  summary(hub?: string): SiteRichness[];
  /** Stops counting (unsubscribes from the feed). */
  close(): void;
}

export type { HubClock } from '../core/clock.ts';
import type { HubClock } from '../core/clock.ts';

/** The console's live state and settings (`/`, `/assets/*`, `/api/v1/stream`, `/api/v1/console/*`). */
export interface ConsoleService {
  /** Page title. */
  readonly title: string;
  /** Limits drawn on the stocks, from the rules. */
  thresholds(): readonly ConsoleThreshold[];
  /** The hub's clock, undefined for the wall clock. */
  clock(): HubClock | undefined;
  /** Newest readings as storage takes them, one entry per metric, privacy-filtered. */
  subscribeReadings: Subscribe<LatestReading>;
  /** Alert transitions and acknowledgements. */
  subscribeAlerts: Subscribe<AlertEvent>;
  /** Starts a species tally from the readings to come (the API keeps one while it runs). */
  richness(): RichnessTally;
  /** Where the built page is (`index.html`, `assets/`). */
  readonly distDir: string;
  /** Builds the page when its settings say so (e.g. older than its sources); the build if one ran. */
  ensureBuilt(): Promise<{ ms: number } | undefined>;
}

/** The services of one API instance; each is optional. */
export interface ApiServices {
  alerts?: AlertsService;
  policy?: PolicyService;
  console?: ConsoleService;
}
