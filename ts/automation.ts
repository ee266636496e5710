// `audience-engine/automation`: the V1/V2 switch for push-blaster's automation engine.
//
// One environment variable, AUTOMATION_ENGINE_VERSION, read on each call, decides whether an
// automation's audience is built by the legacy Python script (V1) or by the Rust generator (V2):
//   unset, `v1`                          -> V1 (the Python script `<scriptsDir>/<scriptId>.py`; for a
//                                           generator's V2 name, its legacy script)
//   `v2` + a script id the registry knows -> V2 (`generate(scriptId, ...)`)
//   `v2` + any other script id           -> V1
//   anything else (`v3`, ...)            -> a warning, then V1
// A failed run rejects: nothing falls back to V1 in the middle of a run.
// Layer 3's rules: without `config.rules` each engine runs its default, V1 production's rules
// (docs/layer3-contract.md section 9) and V2 the contract's; `config.rules` sets both.
import { generateIn, listGenerators } from './engine';
import type { CsvFile, ErrorCode, GeneratorResult, LogEvent } from './types';
import { redactSecrets, runV1Script, V1ScriptError } from './v1-executor';

export { V1ScriptError, redactSecrets } from './v1-executor';
export type { V1FailureKind } from './v1-executor';

/** Default look-back and cooling, in hours, when the automation's parameters omit them. */
export const DEFAULT_LOOKBACK_HOURS = 48;
export const DEFAULT_COOLING_HOURS = 12;
export const DEFAULT_OUTPUT_DIR = '.script-outputs';
export const ENGINE_VERSION_ENV = 'AUTOMATION_ENGINE_VERSION';
export const LOG_PREFIX = '[AutomationEngine]';
/** The longest automation id V2 records (its `automationId` option). */
const MAX_AUTOMATION_ID_CHARS = 200;

export type EngineVersion = 'v1' | 'v2';

/** The part of push-blaster's automation that audience generation reads. */
/** The script parameters of an automation: Layer 3's `lookback_hours`/`cooling_hours`, Layer 5's `min_hours`/`max_days`. */
export interface AutomationScriptParameters {
  lookback_hours?: number;
  cooling_hours?: number;
  min_hours?: number;
  max_days?: number;
  [name: string]: unknown;
}

export interface Automation {
  id: string | number;
  audienceCriteria?: {
    customScript?: {
      scriptId: string;
      parameters?: AutomationScriptParameters;
    };
    [name: string]: unknown;
  };
  [name: string]: unknown;
}

export interface AudienceGenerationResult {
  success: boolean;
  /** Production CSV files (absolute paths). */
  csvPaths: string[];
  /** One-row TEST CSV files (absolute paths). */
  testCsvPaths: string[];
  /** Production rows over all audiences (test files excluded). */
  audienceSize: number;
}

/** How a failed V2 run rejects: the generator's message, with its stable `errorCode`. */
export class V2GeneratorError extends Error {
  readonly engine = 'v2' as const;
  constructor(
    message: string,
    /** The generator's `errorCode` (`DATABASE_UNREACHABLE`, `CANCELLED`, …). */
    readonly code: ErrorCode | undefined,
  ) {
    super(message);
    this.name = 'V2GeneratorError';
  }
}

export interface AutomationLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error?(msg: string): void;
}

export interface AutomationEngineConfig {
  /** Overrides AUTOMATION_ENGINE_VERSION: `v1` or `v2` (anything else: a warning and V1). */
  engineVersion?: string;
  /** Where both engines write their CSV files. Default `.script-outputs`. */
  outputDir?: string;
  /** Default: `env.DATABASE_URL`. */
  databaseUrl?: string;
  /** V1 only. Default: `env.AUDIENCE_ENGINE_PYTHON`, then `<package root>/.venv/bin/python` if it exists, then `python3`. */
  pythonPath?: string;
  /** V1 only: where `<scriptId>.py` lives. Default `<package root>/legacy`. */
  scriptsDir?: string;
  /** V1 only: time limit of the script in whole milliseconds (1 to 2147483647), default 10 minutes. */
  timeoutMs?: number;
  /** V2 only: the server-side limit for each query, in milliseconds (`statementTimeoutMs`), default 300000. */
  statementTimeoutMs?: number;
  /** V2 only: how long to wait for a database connection, in milliseconds (`acquireTimeoutMs`), default 10000. */
  acquireTimeoutMs?: number;
  /**
   * Layer 3's row rules, for both engines: `'v1'` writes what push-blaster's production script
   * writes (docs/layer3-contract.md section 9), `'v2'` follows the contract. Default: each
   * engine's own, so that the switch means what it says: V1 runs production's rules (the
   * script's default, what production does today) and V2 the contract. Set it to run both
   * under the same rules (`'v1'` to check V2 against production file for file). Layer 5 takes
   * no rules: leave it unset for Layer 5's automations.
   */
  rules?: 'v1' | 'v2';
  /**
   * Cancels the run. V2: the running query is cancelled on the server and the call rejects with
   * code `CANCELLED`. V1: the script's process group is killed and the call rejects with a
   * V1ScriptError of kind `cancelled`. Nothing is written in either case.
   */
  signal?: AbortSignal;
  /** The host's logger. Default: the console. */
  logger?: AutomationLogger;
  /** Where AUTOMATION_ENGINE_VERSION, DATABASE_URL and AUDIENCE_ENGINE_PYTHON are read. Default `process.env`, read at call time. */
  env?: NodeJS.ProcessEnv;
  /** The time that stands for "now", given to both engines. Default: the database's now(). */
  asOf?: Date | string;
  /**
   * V2 only: share one run between the calls of one automation made within this many seconds
   * (the generate option `reuseRunWithinSeconds`: same automation id, same options, files still
   * present; a failed run is never reused). Default: no sharing. V1 runs its script every call.
   */
  reuseRunWithinSeconds?: number;
}

/** How a call was routed: useful for logs and tests. */
export interface EngineRoute {
  engine: EngineVersion;
  /** The requested version as given (config or environment), `undefined` when unset. */
  requested: string | undefined;
  /** Why this engine. */
  reason: 'unset' | 'v1' | 'v2' | 'v2_unknown_script' | 'unrecognized_version';
}

const consoleLogger: AutomationLogger = {
  info: (msg) => console.log(msg),
  warn: (msg) => console.warn(msg),
  error: (msg) => console.error(msg),
};

/** The requested version from `config.engineVersion` or `AUTOMATION_ENGINE_VERSION`, normalized (`undefined` when unset). */
export function requestedEngineVersion(config: Pick<AutomationEngineConfig, 'engineVersion' | 'env'> = {}): string | undefined {
  const raw = config.engineVersion ?? (config.env ?? process.env)[ENGINE_VERSION_ENV];
  if (raw === undefined || raw === null) return undefined;
  const value = String(raw).trim();
  return value === '' ? undefined : value;
}

/** True when the V2 registry knows `scriptId`, by generator name or legacy script id. */
export async function isV2Script(scriptId: string): Promise<boolean> {
  const generators = await listGenerators();
  return generators.some((g) => g.name === scriptId || g.legacyScriptIds.includes(scriptId));
}

/** Decides which engine runs `scriptId` (no side effects besides reading the registry). */
export async function resolveEngine(scriptId: string, config: AutomationEngineConfig = {}): Promise<EngineRoute> {
  const requested = requestedEngineVersion(config);
  if (requested === undefined) return { engine: 'v1', requested, reason: 'unset' };
  const version = requested.toLowerCase();
  if (version === 'v1') return { engine: 'v1', requested, reason: 'v1' };
  if (version === 'v2') {
    return (await isV2Script(scriptId))
      ? { engine: 'v2', requested, reason: 'v2' }
      : { engine: 'v1', requested, reason: 'v2_unknown_script' };
  }
  return { engine: 'v1', requested, reason: 'unrecognized_version' };
}

/**
 * Builds the audience of `automation` with the engine AUTOMATION_ENGINE_VERSION selects (see the
 * module comment). Resolves on success; rejects with an Error carrying the engine's message when
 * the run fails (a V2 failure never falls back to V1).
 */
export async function executeAudienceGeneration(
  automation: Automation,
  config: AutomationEngineConfig = {},
): Promise<AudienceGenerationResult> {
  const logger = config.logger ?? consoleLogger;
  const env = config.env ?? process.env;
  const script = automation?.audienceCriteria?.customScript;
  const scriptId = script?.scriptId;
  // With an explicit `config.env`, that environment is the only source: V2 must not fall back
  // to process.env.DATABASE_URL when the V1 script would not see one ('' gives NO_DATABASE_URL).
  const databaseUrl = config.databaseUrl ?? env.DATABASE_URL ?? (config.env ? '' : undefined);
  // Values echoed in messages may be a database URL put in the wrong place.
  const shown = (value: unknown) => redactSecrets(String(value), databaseUrl);
  if (typeof scriptId !== 'string' || scriptId === '') {
    const message = `${LOG_PREFIX} automation ${shown(automation?.id)} has no audienceCriteria.customScript.scriptId: cannot generate its audience`;
    logError(logger, message);
    throw new Error(message);
  }
  // The generator's own options, from the automation's script parameters as the generator names them.
  const scriptOptions = await scriptOptionsOf(scriptId, script?.parameters ?? {});
  const outputDir = config.outputDir ?? DEFAULT_OUTPUT_DIR;

  const route = await resolveEngine(scriptId, config);
  if (route.reason === 'unrecognized_version') {
    logger.warn(
      `${LOG_PREFIX} Unrecognized ${ENGINE_VERSION_ENV} value ${JSON.stringify(shown(route.requested))} (expected "v1" or "v2"); using V1 Python script executor`,
    );
  } else if (route.reason === 'v2_unknown_script') {
    logger.warn(`${LOG_PREFIX} No V2 native generator is registered for ${shown(scriptId)}; using V1 Python script executor`);
  }

  if (route.engine === 'v2') {
    logger.info(`${LOG_PREFIX} Using V2 native generator for ${scriptId}`);
    // V2 reads DATABASE_URL and the PGSSL* variables from the same environment as V1.
    const result: GeneratorResult = await generateIn(env, scriptId, {
      ...scriptOptions,
      automationId: v2AutomationId(automation.id, logger),
      outputDir,
      ...(databaseUrl !== undefined ? { databaseUrl } : {}),
      ...(config.asOf !== undefined ? { asOf: config.asOf } : {}),
      ...(config.statementTimeoutMs !== undefined ? { statementTimeoutMs: config.statementTimeoutMs } : {}),
      ...(config.acquireTimeoutMs !== undefined ? { acquireTimeoutMs: config.acquireTimeoutMs } : {}),
      ...(config.rules !== undefined ? { rules: config.rules } : {}),
      ...(config.signal !== undefined ? { signal: config.signal } : {}),
      ...(config.reuseRunWithinSeconds !== undefined ? { reuseRunWithinSeconds: config.reuseRunWithinSeconds } : {}),
      ...(config.logger ? { onLog: (event: LogEvent) => forwardLog(logger, event) } : {}),
    });
    if (!result.success) {
      const detail = redactSecrets(result.error ?? 'unknown error', databaseUrl);
      const message = `${LOG_PREFIX} V2 native generator for ${scriptId} failed${result.errorCode ? ` (${result.errorCode})` : ''}: ${detail}`;
      logError(logger, message);
      throw new V2GeneratorError(message, result.errorCode);
    }
    return toAudienceResult(result.csvFiles, result.audienceSize);
  }

  logger.info(`${LOG_PREFIX} Using V1 Python script executor for ${shown(scriptId)}`);
  try {
    const result = await runV1Script({
      // Rolling back is one variable: a generator's V2 name runs its legacy script.
      scriptId: await legacyScriptIdOf(scriptId),
      arguments: scriptOptions,
      outputDir,
      automationId: automation.id,
      asOf: config.asOf,
      databaseUrl,
      ...(config.rules !== undefined ? { rules: config.rules } : {}),
      pythonPath: config.pythonPath,
      scriptsDir: config.scriptsDir,
      timeoutMs: config.timeoutMs,
      signal: config.signal,
      env,
      onStderrLine: (line) => logger.info(line),
    });
    return toAudienceResult(result.csvFiles, result.audienceSize);
  } catch (error) {
    const message = redactSecrets(error instanceof Error ? error.message : String(error), databaseUrl);
    logError(logger, `${LOG_PREFIX} V1 Python script executor for ${shown(scriptId)} failed: ${message}`);
    if (error instanceof V1ScriptError) throw error;
    throw new Error(message);
  }
}

/** The legacy script id of the generator named `scriptId`, or `scriptId` itself. */
async function legacyScriptIdOf(scriptId: string): Promise<string> {
  const generator = (await listGenerators()).find((g) => g.name === scriptId);
  return generator?.legacyScriptIds[0] ?? scriptId;
}

/** V2 records at most 200 characters of an automation id; V1 takes any, so a longer one is cut, not refused. */
function v2AutomationId(id: Automation['id'], logger: AutomationLogger): Automation['id'] {
  if (typeof id !== 'string' || Array.from(id).length <= MAX_AUTOMATION_ID_CHARS) return id;
  logger.warn(`${LOG_PREFIX} automation id longer than ${MAX_AUTOMATION_ID_CHARS} characters: V2 records its first ${MAX_AUTOMATION_ID_CHARS}`);
  return Array.from(id).slice(0, MAX_AUTOMATION_ID_CHARS).join(''); // whole code points
}

function toAudienceResult(files: CsvFile[], audienceSize: number): AudienceGenerationResult {
  return {
    success: true,
    csvPaths: files.filter((f) => !f.isTestFile).map((f) => f.path),
    testCsvPaths: files.filter((f) => f.isTestFile).map((f) => f.path),
    audienceSize,
  };
}

/**
 * The options a generator takes from an automation's script parameters, each under the option
 * name the generator gives it (`GeneratorInfo.parameters`). A script no generator knows gets
 * Layer 3's, as push-blaster passes them.
 */
async function scriptOptionsOf(scriptId: string, parameters: Record<string, unknown>): Promise<Record<string, number>> {
  const generator = (await listGenerators()).find((g) => g.name === scriptId || g.legacyScriptIds.includes(scriptId));
  const known = generator?.parameters ?? [
    { name: 'lookback_hours', option: 'lookbackHours', default: DEFAULT_LOOKBACK_HOURS },
    { name: 'cooling_hours', option: 'coolingHours', default: DEFAULT_COOLING_HOURS },
  ];
  return Object.fromEntries(known.map((p) => [p.option, numericParameter(parameters[p.name], p.default)]));
}

/** A numeric parameter: a number, or a numeric string; absent/null gives the default. Other values go to the engine, which rejects them. */
function numericParameter(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return value as number;
}

function forwardLog(logger: AutomationLogger, event: LogEvent): void {
  if (event.level === 'error') logError(logger, event.message);
  else if (event.level === 'warn') logger.warn(event.message);
  else if (event.level === 'info') logger.info(event.message);
}

function logError(logger: AutomationLogger, message: string): void {
  if (logger.error) logger.error(message);
  else logger.warn(message);
}
