/** Options of every generator. Every field is optional. */
export interface GeneratorOptions {
  /**
   * Hours of look-back, default 48. The window is
   * `[asOf − (lookbackHours − coolingHours) h, asOf − coolingHours h)`: start included, end
   * excluded; with the defaults `[asOf − 36 h, asOf − 12 h)`. Finite, `0 ≤ coolingHours <
   * lookbackHours ≤ 87600`; fractions are allowed (rounded to the microsecond).
   */
  lookbackHours?: number;
  /** Hours of cooling before `asOf` during which actions are not used, default 12. See `lookbackHours`. */
  coolingHours?: number;
  /**
   * Directory for the CSV files, default `.script-outputs`; created if missing. A run that
   * writes no file (it failed, was cancelled, or found no activity) removes what it created.
   */
  outputDir?: string;
  /** Compute everything, write nothing. Default false. */
  dryRun?: boolean;
  /** Recorded in the result's metadata. */
  automationId?: string | number;
  /**
   * The time that stands for "now" in every query: a `Date` or an ISO-8601 string with `Z` or an
   * offset (years 1900–9999). Default: the database's `now()` at the start of the run.
   */
  asOf?: Date | string;
  /** Default: `process.env.DATABASE_URL` read at call time. One pool per distinct URL, reused. */
  databaseUrl?: string;
  /** Demand threshold for `offer_created` and `wishlist_add` rows (inventory count), default 3. */
  minInventoryCount?: number;
  /** Demand threshold for `closet_add` rows (wishlist count), default 2. */
  minWishlistCount?: number;
  /** Server-side limit for each query, in milliseconds, default 300000 (5 minutes). */
  statementTimeoutMs?: number;
  /** How long to wait for a database connection, in milliseconds, default 10000. */
  acquireTimeoutMs?: number;
  /**
   * Which row rules to follow: `'v2'` (default) is docs/layer3-contract.md; `'v1'` writes what
   * push-blaster's production script writes, byte for byte (its wider window without the
   * cooling period, incomplete profiles dropped, its `lastActive` format, CRLF, its test rows,
   * no file for an empty audience): section 9 of the contract lists each difference.
   */
  rules?: 'v1' | 'v2';
  /** Receives each log event instead of the console. */
  onLog?: (event: LogEvent) => void;
  /** Cancels the run: the running query is cancelled on the server and nothing is written. */
  signal?: AbortSignal;
  /**
   * Run sharing, off by default (absent or 0): when set to N seconds (at most 86400), a call
   * resolves the result of an identical run instead of running again: one that succeeded less
   * than N seconds ago in this process and whose files (CSVs and manifest) all still exist (no
   * query at all), or one still in flight (the call waits for it). Identical: the same
   * generator (by V2 name or legacy id), the same options other than `onLog`, `signal` and this
   * one (so the same `automationId`, window, `asOf`, rules, thresholds), the same database URL
   * and `PGSSL*` variables and the same output directory. A failed run is never reused; a call
   * that waited for one runs again. For a host that generates once per push of one automation
   * (push-blaster: three calls for Layer 3): one snapshot and one run's database work for the
   * whole automation. The caller's `signal` cancels only its own wait when it joined another
   * call's run. Not sent to the engine.
   */
  reuseRunWithinSeconds?: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEvent {
  level: LogLevel;
  /** Starts with `[<generator name>]`, e.g. `[layer3-behavior] activity: done in 412.3 ms: …`. */
  message: string;
  /** The phase: `connect`, `activity`, `demand`, `enrich`, `write`. */
  phase: string | null;
  /** Milliseconds since the run started. */
  elapsedMs: number;
  /** On a phase's end: how long it took, in milliseconds. */
  phaseMs: number | null;
}

/** Stable error codes of a failed run. */
export type ErrorCode =
  | 'INVALID_OPTION'
  | 'UNKNOWN_GENERATOR'
  | 'NO_DATABASE_URL'
  | 'DATABASE_UNREACHABLE'
  | 'DATABASE_ERROR'
  | 'QUERY_TIMEOUT'
  | 'OUTPUT_DIR'
  | 'WRITE_FAILED'
  | 'CANCELLED'
  | 'INTERNAL';

export type AudienceType = 'offer_creators' | 'closet_adders' | 'wishlist_adders';

export interface CsvFile {
  /** Absolute path. */
  path: string;
  /** Data rows, header excluded (1 for a test file). */
  rowCount: number;
  isTestFile: boolean;
  audienceType: AudienceType | string;
}

export interface StageCounts {
  beforeFilter: number;
  afterFilter: number;
  /** Rules `v1` only: rows dropped after the filter for a missing first name or size. */
  incompleteProfiles?: number;
}

/**
 * The window actually used, ISO-8601 UTC. The start is included. Under rules `v2` the end is
 * excluded; under `v1` (`endIncluded: true`) it is `asOf`, included, or null: no upper bound.
 */
export interface RunWindow {
  start: string;
  end: string | null;
  endIncluded?: true;
}

export interface GeneratorMetadata {
  generator: string;
  automationId: string | null;
  /** The "now" used, ISO-8601 UTC. */
  asOf: string;
  window: RunWindow;
  /** The row rules followed. */
  rules: 'v1' | 'v2';
  dryRun: boolean;
  /** The options used (never the database URL). */
  options: Record<string, unknown>;
  /** `'no_activity'` when the window holds no action: success with no files. */
  reason?: 'no_activity';
  counts: {
    activityRows: { offerCreated: number; closetAdd: number; wishlistAdd: number; total: number };
    uniqueUsers: number;
    audiences?: Record<AudienceType, StageCounts>;
  };
  /** Milliseconds per phase. */
  phasesMs: Record<string, number>;
  /** Dry runs only: the manifest a real run would write (files without checksums). */
  manifest?: RunManifest;
}

export interface RunManifest {
  manifestVersion: 1;
  generator: { name: string; version: string };
  engine: { name: string; version: string };
  automationId: string | null;
  runStartedAt: string;
  asOf: string;
  window: RunWindow;
  options: Record<string, unknown>;
  counts: GeneratorMetadata['counts'];
  /** The file stamp (`<ts>`, or `<ts>-N` when names were taken); null in a dry run. */
  stamp: string | null;
  files: { name?: string; audienceType: string; isTestFile: boolean; rowCount: number; bytes?: number; sha256?: string }[];
}

export interface GeneratorResult {
  success: boolean;
  csvFiles: CsvFile[];
  /**
   * The run manifest `<ts>.manifest.json`, written last next to the CSVs: generator and engine
   * versions, automation id, options (no credentials), asOf, window, the count at every stage,
   * and each file's row count and SHA-256.
   */
  manifestPath?: string;
  /** Production rows over all audiences (test files excluded). */
  audienceSize: number;
  executionTimeMs: number;
  /** What went wrong: names the option, the value and what is allowed. Never credentials. */
  error?: string;
  errorCode?: ErrorCode;
  metadata?: GeneratorMetadata;
}

export interface GeneratorInfo {
  name: string;
  layerId: number;
  description: string;
  legacyScriptIds: string[];
  /** The option names the generator takes besides the common ones (e.g. `lookbackHours`, `minHours`). */
  options: string[];
  /**
   * The parameters a push-blaster automation gives the generator's script
   * (`audienceCriteria.customScript.parameters`, e.g. `lookback_hours`), the option each one
   * sets (`lookbackHours`) and its default.
   */
  parameters: { name: string; option: string; default: number }[];
}

/** One action of the user found by `explainUser`. */
export interface ExplainedAction {
  type: 'offer_created' | 'closet_add' | 'wishlist_add';
  /** The offer, inventory item or wishlist item id. */
  recordId: string;
  variantId: string;
  productName: string;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** Where the action falls relative to the window. */
  position: 'in_window' | 'before_window' | 'after_window';
  /** For actions outside the window: how far outside, in hours. */
  hoursOutside?: number;
}

export type ExplainVerdict =
  | { kind: 'in_audience'; audienceType: AudienceType; reason: string }
  | { kind: 'not_found'; reason: string }
  | { kind: 'deleted'; reason: string }
  | { kind: 'no_activity'; reason: string }
  | { kind: 'outside_window'; reason: string }
  | { kind: 'below_demand'; audienceType: AudienceType; count: number; threshold: number; reason: string }
  /** Rules `v1` only: the row would have no first name or no size, which the production script drops. */
  | { kind: 'incomplete_profile'; audienceType: AudienceType; reason: string };

export interface ExplainResult {
  success: boolean;
  userId: string;
  /** The window used (see `RunWindow`). */
  window?: RunWindow;
  asOf?: string;
  /** Every action of the user that the rules consider (live items only), newest first (at most 200). */
  actions: ExplainedAction[];
  /** The action that won the one-row-per-user pick, and why. */
  winner?: ExplainedAction & { why: string };
  /** The demand count of the winner's variant against its threshold. */
  demand?: { measure: 'inventory_count' | 'wishlist_count'; count: number; threshold: number; passes: boolean };
  verdict?: ExplainVerdict;
  /** The CSV row the user gets, when in an audience (column name → value). */
  row?: Record<string, string>;
  error?: string;
  errorCode?: ErrorCode;
}

/**
 * Options of `explainUser`: the window, thresholds and connection of `GeneratorOptions`, its
 * log callback, and a `signal` that cancels the explanation (the running query is cancelled on
 * the server; the result is `CANCELLED`).
 */
export type ExplainOptions = { generator?: 'layer3-behavior' | 'generate_layer_3_push_csvs' } & Pick<
  GeneratorOptions,
  | 'lookbackHours'
  | 'coolingHours'
  | 'asOf'
  | 'databaseUrl'
  | 'minInventoryCount'
  | 'minWishlistCount'
  | 'statementTimeoutMs'
  | 'acquireTimeoutMs'
  | 'rules'
  | 'onLog'
  | 'signal'
>;

/**
 * Options of the Layer 5 new-user waterfall (`layer5-waterfall`, docs/layer5-contract.md): its
 * own two, and the options every generator takes.
 */
export interface Layer5Options
  extends Omit<GeneratorOptions, 'lookbackHours' | 'coolingHours' | 'minInventoryCount' | 'minWishlistCount' | 'rules'> {
  /** The youngest account taken, in hours before `asOf`, default 12: finite, `>= 0`, fractions allowed. */
  minHours?: number;
  /** The oldest account taken, in days before `asOf`, default 14: above 0, at most 3650, `maxDays × 24 >= minHours`. */
  maxDays?: number;
}

/** The levels of the waterfall, as `audienceType`. */
export type Layer5AudienceType = 'no_shoes' | 'no_bio' | 'no_offers' | 'no_wishlist' | 'new_stars';

/** What a Layer 5 run reports: the funnel instead of Layer 3's activity and audiences. */
export interface Layer5Metadata extends Omit<GeneratorMetadata, 'counts' | 'reason' | 'rules'> {
  /** `'no_new_users'` when the base set is empty: success with no files. */
  reason?: 'no_new_users';
  counts: {
    /** Users in the base set (one row each). */
    baseUsers: number;
    /** By level number: the users it took and those left after it (empty when the base set is). */
    levels: Partial<Record<'1' | '2' | '3' | '4' | '5', { audienceType: Layer5AudienceType; extracted: number; remainingAfter: number }>>;
  };
}

export interface Layer5Result extends Omit<GeneratorResult, 'metadata'> {
  metadata?: Layer5Metadata;
}

/** Options of `explainUser` for Layer 5: `generator` names it; its window and the connection. */
export type Layer5ExplainOptions = { generator: 'layer5-waterfall' | 'generate_new_user_waterfall' } & Pick<
  Layer5Options,
  'minHours' | 'maxDays' | 'asOf' | 'databaseUrl' | 'statementTimeoutMs' | 'acquireTimeoutMs' | 'onLog' | 'signal'
>;

/** Which level one user lands in and why (`explainUser(userId, { generator: 'layer5-waterfall' })`). */
export interface Layer5ExplainResult {
  success: boolean;
  userId: string;
  asOf?: string;
  /** The base set's window: accounts created in it, both ends included. */
  window?: RunWindow;
  /** When the account was created (ISO-8601 UTC). */
  createdAt?: string;
  /** What the user has done, for a user in the base set. */
  checks?: { closetItem: boolean; bio: boolean; offer: boolean; wishlistItem: boolean };
  /** Levels 3 to 5: the shoe and the step of the chain that gave it. */
  targetShoe?: {
    productName: string;
    variantId: string;
    source: 'desired_item' | 'latest_offer' | 'newest_wishlist_item' | 'any_offer_item';
  };
  verdict?:
    | { kind: 'in_level'; level: 1 | 2 | 3 | 4 | 5; audienceType: Layer5AudienceType; reason: string }
    | { kind: 'not_found' | 'deleted' | 'no_first_name' | 'outside_window'; reason: string };
  /** The CSV row the user gets (column name → value). */
  row?: Record<string, string>;
  error?: string;
  errorCode?: ErrorCode;
}
