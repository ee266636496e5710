import { randomUUID } from 'node:crypto';
import * as path from 'node:path';

import { native, toWire, type WireValue } from './native';
import { redactSecrets } from './redact';
import { checkReuseSeconds, runKey, shareRun } from './run-sharing';
import type {
  ExplainOptions,
  ExplainResult,
  GeneratorInfo,
  GeneratorOptions,
  GeneratorResult,
  Layer5ExplainOptions,
  Layer5Options,
  LogEvent,
} from './types';

/**
 * `generate()` with the environment `env` in place of `process.env`: `DATABASE_URL` and the
 * `PGSSL*` variables are read from it. For hosts that hand each engine an environment of its
 * own (`audience-engine/automation`'s `config.env`, compare), so V1 and V2 see the same one.
 */
export async function generateIn(
  env: NodeJS.ProcessEnv,
  nameOrLegacyId: string,
  options: GeneratorOptions | Layer5Options = {},
): Promise<GeneratorResult> {
  const started = Date.now();
  if (typeof nameOrLegacyId !== 'string') {
    return failure('UNKNOWN_GENERATOR', `the generator name must be a string, got ${describe(nameOrLegacyId)}`, started);
  }
  const read = readOptions(options, env);
  if ('error' in read) return failure('INVALID_OPTION', read.error, started);
  if (read.signal?.aborted) {
    return failure('CANCELLED', 'the run was cancelled before it started; no file was written', started);
  }
  const run = async (): Promise<GeneratorResult> => {
    try {
      return (await cancellable(read.signal, (runId) =>
        native.nativeGenerate(nameOrLegacyId, read.wire, read.environment, read.onLog, runId),
      )) as GeneratorResult;
    } catch (error) {
      return failure('INTERNAL', `the native engine failed: ${(error as Error)?.message ?? String(error)}`, started);
    }
  };
  // Run sharing (ts/run-sharing.ts): only when asked, and only for a generator the addon knows.
  const generator = read.reuseRunWithinSeconds ? canonicalName(nameOrLegacyId) : undefined;
  if (!generator) return run();
  const key = runKey({ generator, options: read.wire, environment: read.environment, outputDir: read.outputDir });
  return shareRun(key, read.reuseRunWithinSeconds!, `[${generator}] run-sharing:`, read.signal, read.onLog, run, () =>
    failure('CANCELLED', 'the call was cancelled while it waited for the identical run of another call; that run goes on', started),
  );
}

/** The V2 name of the generator `nameOrLegacyId` names, or undefined. */
function canonicalName(nameOrLegacyId: string): string | undefined {
  const generators = native.nativeListGenerators() as GeneratorInfo[];
  return generators.find((g) => g.name === nameOrLegacyId || g.legacyScriptIds.includes(nameOrLegacyId))?.name;
}

/** The generator `explainUser` explains unless its options name another (`generator`). */
const DEFAULT_EXPLAINED_GENERATOR = 'layer3-behavior';

/** `explainUser()` with the environment `env` in place of `process.env`, as `generateIn`. */
export async function explainUserIn(
  env: NodeJS.ProcessEnv,
  userId: string,
  options: ExplainOptions | Layer5ExplainOptions = {},
): Promise<ExplainResult> {
  const fail = (errorCode: ExplainResult['errorCode'], error: string): ExplainResult => ({
    success: false,
    userId: typeof userId === 'string' ? redactSecrets(userId) : String(userId),
    actions: [],
    error,
    errorCode,
  });
  if (typeof userId !== 'string') return fail('INVALID_OPTION', `userId must be a UUID string, got ${describe(userId)}`);
  let generator = DEFAULT_EXPLAINED_GENERATOR;
  let engineOptions: unknown = options;
  if (options !== null && typeof options === 'object' && 'generator' in options) {
    const { generator: named, ...rest } = options as { generator?: unknown };
    if (typeof named !== 'string') return fail('INVALID_OPTION', `generator must be a generator name such as layer5-waterfall, got ${describe(named)}`);
    generator = named;
    engineOptions = rest;
  }
  const read = readOptions(engineOptions, env);
  if ('error' in read) return fail('INVALID_OPTION', read.error);
  if (read.signal?.aborted) return fail('CANCELLED', 'the explanation was cancelled before it started');
  try {
    const result = (await cancellable(read.signal, (runId) =>
      native.nativeExplainUser(generator, userId, read.wire, read.environment, read.onLog, runId),
    )) as ExplainResult;
    // The engine's userId is the parsed id, or the argument echoed with any password hidden.
    return { ...result, actions: result.actions ?? [] };
  } catch (error) {
    return fail('INTERNAL', `the native engine failed: ${(error as Error)?.message ?? String(error)}`);
  }
}

interface ReadOptions {
  wire: Record<string, WireValue>;
  /** The variables libpq reads for TLS, for the engine. */
  environment: Record<string, string>;
  onLog: (event: unknown) => void;
  signal?: AbortSignal;
  /** `reuseRunWithinSeconds` (ts/run-sharing.ts); 0 or absent: no sharing. */
  reuseRunWithinSeconds?: number;
  /** The output directory, resolved against the current directory (part of a shared run's key). */
  outputDir: string;
}

/** Checks the JS-only options (`onLog`, `signal`, `reuseRunWithinSeconds`) and encodes the rest for the engine. */
function readOptions(options: unknown, env: NodeJS.ProcessEnv): ReadOptions | { error: string } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return { error: `options must be an object, got ${describe(options)}` };
  }
  try {
    const { onLog, signal, reuseRunWithinSeconds, ...rest } = options as GeneratorOptions;
    if (onLog !== undefined && typeof onLog !== 'function') return { error: `onLog must be a function, got ${describe(onLog)}` };
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return { error: `signal must be an AbortSignal, got ${describe(signal)}` };
    }
    const reuseError = checkReuseSeconds(reuseRunWithinSeconds);
    if (reuseError) return { error: reuseError };
    const log = onLog ?? logToConsole;
    const outputDir = path.resolve(typeof rest.outputDir === 'string' && rest.outputDir !== '' ? rest.outputDir : '.script-outputs');
    return {
      wire: toWireOptions(rest, env),
      onLog: (event) => safeLog(log, event as LogEvent),
      signal,
      environment: pgEnvironment(env),
      reuseRunWithinSeconds,
      outputDir,
    };
  } catch (error) {
    // A getter that throws, or a Proxy: the options cannot be read, so no run starts.
    return { error: `the options could not be read: ${redactSecrets((error as Error)?.message ?? String(error))}` };
  }
}

/**
 * Calls the engine with a run id that `signal` cancels, or without one. The id is registered
 * before the call, so an abort that comes before the engine starts the run still cancels it.
 */
async function cancellable<T>(signal: AbortSignal | undefined, call: (runId?: string) => Promise<T>): Promise<T> {
  if (!signal) return call();
  const runId = randomUUID();
  native.nativeRegisterRun(runId);
  const abort = () => native.nativeCancel(runId);
  signal.addEventListener('abort', abort, { once: true });
  try {
    return await call(runId);
  } finally {
    signal.removeEventListener('abort', abort);
    native.nativeForgetRun(runId);
  }
}

function toWireOptions(options: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, WireValue> {
  const wire: Record<string, WireValue> = {};
  for (const [key, value] of Object.entries(options)) {
    const encoded = toWire(value);
    if (encoded !== undefined) wire[key] = encoded;
  }
  if (!('databaseUrl' in wire) && env.DATABASE_URL !== undefined) {
    wire.databaseUrl = { type: 'string', value: env.DATABASE_URL };
  }
  return wire;
}

/** The variables libpq reads for TLS (`PGSSLMODE`, …), as `env` has them at call time. */
function pgEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const name of ['PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY']) {
    const value = env[name];
    if (value !== undefined) environment[name] = value;
  }
  return environment;
}

/** The registered generators. */
export async function listGenerators(): Promise<GeneratorInfo[]> {
  return native.nativeListGenerators() as GeneratorInfo[];
}

/** Closes every database pool, so the host process (and jest) can exit promptly. */
export async function shutdown(): Promise<void> {
  await native.nativeShutdown();
}

function safeLog(log: (event: LogEvent) => void, event: LogEvent): void {
  try {
    log(event);
  } catch {
    // A throwing log callback must not break the run.
  }
}

/** The default log: every event but the per-query debug lines (pass `onLog` to see those). */
function logToConsole(event: LogEvent): void {
  if (event.level === 'debug') return;
  const write = event.level === 'error' ? console.error : event.level === 'warn' ? console.warn : console.log;
  write(event.message);
}

function failure(errorCode: GeneratorResult['errorCode'], error: string, started: number): GeneratorResult {
  return { success: false, csvFiles: [], audienceSize: 0, executionTimeMs: Date.now() - started, error, errorCode };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    // Hidden before it is cut: a long URL must not push its password past the redaction.
    const shown = redactSecrets(value);
    return JSON.stringify(shown.length > 80 ? `${shown.slice(0, 80)}…` : shown);
  }
  if (typeof value === 'object' || typeof value === 'function') return `${typeof value === 'function' ? 'a function' : 'an object'}`;
  return String(value);
}
