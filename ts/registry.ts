// `generatorRegistry`: the generator registry push-blaster's automation engine imports from its
// own `./generators` module, over this engine, so that moving push-blaster to the addon is one
// import line (docs/push-blaster.md).
//
// Two hosts exist: the seed's design, whose registry answers synchronously
// (`if (registry.has(id)) registry.get(id)!.generate(...)`), and push-blaster as deployed, whose
// registry is async (`await registry.has(id)`, `await registry.get(id)`). This registry answers
// synchronously with plain values: `await` on a value that is not a promise (and has no `then`)
// yields the value itself, so both hosts get what they expect, and `has()` stays a real boolean
// that an `if` without `await` can test. (A value that were both a boolean and a thenable would
// have to be an object, and every object is truthy.) The registry has nothing to initialize:
// the generators are compiled into the addon, and no database pool exists before a run.
//
// The generator objects speak the seed's dialect: Layer 3's audience types are `offer_created`,
// `closet_add`, `wishlist_add` (the engine's are `offer_creators`, `closet_adders`,
// `wishlist_adders`), and a successful run's metadata carries the seed's per-audience counts
// beside the engine's own. The engine's API (`generate()`, `GeneratorResult`) is unchanged;
// this module only adapts. A generator the table below does not know passes its results as the
// engine makes them.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { explainUserIn, generateIn } from './engine';
import { native } from './native';
import { checkReuseSeconds } from './run-sharing';
import type { AudienceType, CsvFile, ExplainOptions, GeneratorInfo, GeneratorMetadata, GeneratorOptions, GeneratorResult } from './types';

/** The seed's names of Layer 3's audiences: the action each is built from. */
export type RegistryAudienceType = 'offer_created' | 'closet_add' | 'wishlist_add';

/**
 * A file of a registry run: the engine's `CsvFile` with the seed's audience type (Layer 3's
 * are always one of `RegistryAudienceType`; a generator with no seed names keeps its own).
 */
export interface RegistryCsvFile extends Omit<CsvFile, 'audienceType'> {
  audienceType: RegistryAudienceType | (string & {});
}

/**
 * A registry run's metadata: the engine's `GeneratorMetadata`, plus the seed's counts, each
 * audience's rows after the demand filter (the production rows its file holds). Every
 * successful Layer 3 run has all three (0 when the window held no activity). A type alias,
 * not an interface, so that it is assignable to the seed's `Record<string, unknown>`.
 */
export type RegistryMetadata = { [K in keyof GeneratorMetadata]: GeneratorMetadata[K] } & {
  [K in RegistryAudienceType]?: number;
};

/** The result of a registry generator's `generate()`: the engine's result in the seed's dialect. */
export interface RegistryGeneratorResult extends Omit<GeneratorResult, 'csvFiles' | 'metadata'> {
  csvFiles: RegistryCsvFile[];
  metadata?: RegistryMetadata;
}

/** What `validate()` resolves: `valid` when `errors` is empty. */
export interface GeneratorValidation {
  valid: boolean;
  errors: string[];
}

/** One generator, as the registry hands it out: the seed's `BaseAudienceGenerator` members. */
export interface AudienceGenerator {
  /** The V2 name, e.g. `layer3-behavior`. */
  readonly name: string;
  readonly layerId: number;
  readonly description: string;
  /** The script ids of push-blaster's V1 that this generator replaces, e.g. `generate_layer_3_push_csvs`. */
  readonly legacyScriptIds: readonly string[];
  /**
   * Runs the generator (the engine's `generate(name, options)`) and resolves its result in the
   * seed's dialect. Never rejects: a bad option, a missing `DATABASE_URL` or a failed run
   * resolve `{ success: false, error, errorCode }`. `reuseRunWithinSeconds` works as in
   * `generate()`: a host that calls `generate` once per push of one automation (push-blaster)
   * passes it so that the calls share one run (docs/push-blaster.md). A generator without seed
   * names (Layer 5, `layer5-waterfall`) resolves the engine's result unchanged.
   */
  generate(options?: GeneratorOptions): Promise<RegistryGeneratorResult>;
  /**
   * Checks, without running the generator and without writing anything, what a run with
   * `options` would need: the options as the engine reads them, a database URL (`databaseUrl`
   * or `DATABASE_URL`), the connection (TLS, authentication) and the schema (one connection
   * looks up one user id that does not exist, through the engine's own code), and an output
   * directory that is writable or can be created. The database check waits at most 5 s for a
   * connection and 5 s for each query unless `acquireTimeoutMs` / `statementTimeoutMs` say
   * otherwise. `dryRun` and `automationId` are checked when a run starts. Logs nothing unless
   * `onLog` is given (the engine's events of the check, phase `explain`). Never rejects.
   */
  validate(options?: GeneratorOptions): Promise<GeneratorValidation>;
}

/**
 * The seed's `GeneratorRegistry`: generators by V2 name or legacy script id. Every method
 * answers synchronously; `await` on its answer gives the same value (see the module comment).
 */
export interface GeneratorRegistry {
  /** The generator named `nameOrLegacyId` (`layer3-behavior` or `generate_layer_3_push_csvs`), or undefined. */
  get(nameOrLegacyId: string): AudienceGenerator | undefined;
  /** Whether `get(nameOrLegacyId)` finds a generator. */
  has(nameOrLegacyId: string): boolean;
  /** The V2 names of the generators, each once. */
  list(): string[];
}

/** Per generator, the seed's name of each of the engine's audience types. */
const SEED_AUDIENCES: Record<string, Record<string, RegistryAudienceType>> = {
  'layer3-behavior': {
    offer_creators: 'offer_created',
    closet_adders: 'closet_add',
    wishlist_adders: 'wishlist_add',
  } satisfies Record<AudienceType, RegistryAudienceType>,
};

/**
 * The seed's common options that every host call carries (push-blaster passes `lookbackHours`
 * and `coolingHours`, defaulted to 48 and 12, whatever the script), though only Layer 3 takes
 * them: the seed's Layer 5 ignores them. The registry drops them for a generator that does not
 * take them, so that push-blaster's call reaches Layer 5 as it reaches the seed's; the engine's
 * own `generate()` still refuses them for Layer 5.
 */
const SEED_COMMON_OPTIONS = ['lookbackHours', 'coolingHours'] as const;

/** The user id `validate()` looks up: a valid UUID no marketplace gives a user. */
const NIL_USER_ID = '00000000-0000-0000-0000-000000000000';
/** `validate()`'s limits when the options give none: the seed's health check waits 5 s. */
const VALIDATE_TIMEOUT_MS = 5_000;
/** The options that only concern a run's files or its sharing, which `explainUser` does not take. */
const FILE_OPTIONS = ['outputDir', 'dryRun', 'automationId', 'reuseRunWithinSeconds'] as const;
const DEFAULT_OUTPUT_DIR = '.script-outputs';

class RegistryGenerator implements AudienceGenerator {
  readonly name: string;
  readonly layerId: number;
  readonly description: string;
  readonly legacyScriptIds: readonly string[];
  /** The seed's common options this generator does not take (dropped from a call's options). */
  private readonly ignoredSeedOptions: readonly string[];

  constructor(info: GeneratorInfo) {
    this.name = info.name;
    this.layerId = info.layerId;
    this.description = info.description;
    this.legacyScriptIds = Object.freeze([...info.legacyScriptIds]);
    const taken = new Set((info.parameters ?? []).map((p) => p.option));
    this.ignoredSeedOptions = SEED_COMMON_OPTIONS.filter((name) => !taken.has(name));
  }

  async generate(options: GeneratorOptions = {}): Promise<RegistryGeneratorResult> {
    return toSeedDialect(await generateIn(process.env, this.name, this.withoutIgnored(options)), SEED_AUDIENCES[this.name] ?? {});
  }

  /** `options` without the seed's common options this generator ignores (anything else as given). */
  private withoutIgnored<T>(options: T): T {
    if (this.ignoredSeedOptions.length === 0 || options === null || typeof options !== 'object' || Array.isArray(options)) return options;
    const kept: Record<string, unknown> = { ...(options as Record<string, unknown>) };
    for (const name of this.ignoredSeedOptions) delete kept[name];
    return kept as T;
  }

  async validate(options: GeneratorOptions = {}): Promise<GeneratorValidation> {
    const errors: string[] = [];
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      return { valid: false, errors: [`INVALID_OPTION: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`] };
    }
    const outputDirError = checkOutputDir(options.outputDir);
    if (outputDirError) errors.push(`OUTPUT_DIR: ${outputDirError}`);
    const reuseError = checkReuseSeconds(options.reuseRunWithinSeconds);
    if (reuseError) errors.push(`INVALID_OPTION: ${reuseError}`);

    const explainOptions: Record<string, unknown> = { ...this.withoutIgnored(options), generator: this.name };
    for (const name of FILE_OPTIONS) delete explainOptions[name];
    explainOptions.acquireTimeoutMs ??= VALIDATE_TIMEOUT_MS;
    explainOptions.statementTimeoutMs ??= VALIDATE_TIMEOUT_MS;
    // The engine logs the probe as an explanation (phase `explain`): only to a caller's onLog;
    // by default the result's errors are the whole report.
    explainOptions.onLog ??= ignoreLog;
    const probe = await explainUserIn(process.env, NIL_USER_ID, explainOptions as ExplainOptions);
    if (!probe.success) errors.push(`${probe.errorCode ?? 'INTERNAL'}: ${probe.error ?? 'the database check failed'}`);
    return { valid: errors.length === 0, errors };
  }
}

class Registry implements GeneratorRegistry {
  private generators: Map<string, AudienceGenerator> | undefined;

  get(nameOrLegacyId: string): AudienceGenerator | undefined {
    return typeof nameOrLegacyId === 'string' ? this.byName().get(nameOrLegacyId) : undefined;
  }

  has(nameOrLegacyId: string): boolean {
    return this.get(nameOrLegacyId) !== undefined;
  }

  list(): string[] {
    return [...new Set(this.byName().values())].map((generator) => generator.name);
  }

  /** Each generator under its name and its legacy ids; read from the addon on first use. */
  private byName(): Map<string, AudienceGenerator> {
    if (!this.generators) {
      const generators = new Map<string, AudienceGenerator>();
      for (const info of native.nativeListGenerators() as GeneratorInfo[]) {
        const generator = new RegistryGenerator(info);
        for (const key of [info.name, ...info.legacyScriptIds]) generators.set(key, generator);
      }
      this.generators = generators;
    }
    return this.generators;
  }
}

/** The generators of the addon, by V2 name or legacy script id, shaped like the seed's registry. */
export const generatorRegistry: GeneratorRegistry = new Registry();

function ignoreLog(): void {}

/**
 * The engine's result with the seed's audience types (`names`: engine's type -> seed's; a type
 * not in it passes unchanged) and, in a successful run's metadata, the seed's counts: each
 * named audience's rows after the filter, 0 for an audience the run did not reach.
 */
function toSeedDialect(result: GeneratorResult, names: Record<string, RegistryAudienceType>): RegistryGeneratorResult {
  const { csvFiles, metadata, ...rest } = result;
  const adapted: RegistryGeneratorResult = {
    ...rest,
    csvFiles: csvFiles.map((file) => ({ ...file, audienceType: names[file.audienceType] ?? file.audienceType })),
  };
  if (metadata) {
    const audiences: Partial<Record<string, { afterFilter: number }>> = metadata.counts?.audiences ?? {};
    const counts = Object.entries(names).map(([engine, seed]) => [seed, audiences[engine]?.afterFilter ?? 0]);
    adapted.metadata = { ...metadata, ...Object.fromEntries(counts) };
  }
  return adapted;
}

/**
 * Why a run could not write into `outputDir` (default `.script-outputs`, relative to the
 * current directory, as the engine resolves it), or undefined when it could: the directory
 * exists and is writable, or its nearest existing ancestor is a writable directory (the run
 * creates the rest). Creates nothing.
 */
function checkOutputDir(outputDir: unknown): string | undefined {
  if (outputDir === undefined) outputDir = DEFAULT_OUTPUT_DIR;
  if (typeof outputDir !== 'string' || outputDir === '') {
    return `outputDir must be a non-empty string, got ${typeof outputDir === 'string' ? '""' : typeof outputDir}`;
  }
  const target = path.resolve(outputDir);
  let existing = target;
  while (!fs.existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(existing);
  } catch (error) {
    return `${existing} cannot be read: ${(error as Error).message}`;
  }
  if (!stat.isDirectory()) {
    return existing === target
      ? `outputDir ${target} exists and is not a directory`
      : `outputDir ${target} cannot be created: ${existing} is not a directory`;
  }
  try {
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    return existing === target
      ? `outputDir ${target} is not writable`
      : `outputDir ${target} cannot be created: ${existing} is not writable`;
  }
  return undefined;
}
