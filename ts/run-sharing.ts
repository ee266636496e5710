// Run sharing (`reuseRunWithinSeconds`): one run for the several calls a host makes for one
// automation.
//
// push-blaster generates an automation's audience once per push: three identical calls for
// Layer 3, one after the other, each a fresh snapshot of the database (a user who acts between
// two of them can land in two audiences) and each the whole run's database work. With
// `reuseRunWithinSeconds: N`, a call resolves the result of an identical run (same generator,
// same options once the JS-only ones are set aside, same database URL and TLS variables, same
// output directory) instead of starting its own:
//   - a run that succeeded less than N seconds ago, when every file it reported (CSVs and
//     manifest) still exists: its result, with no query;
//   - an identical run still in flight: the call waits for it and resolves its result.
// A failed run is never reused: it is forgotten when it ends, and a call that was waiting for it
// runs again (joining a run another such call started meanwhile). A call's `signal` cancels only
// its own wait when it joined another call's run; the run belongs to the call that started it.
// The cache is per process and in memory; expired entries are dropped when the next shared
// call looks. Nothing here is sent to the engine.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

import type { GeneratorResult, LogEvent } from './types';

/** The longest window `reuseRunWithinSeconds` takes: one day. */
export const MAX_REUSE_SECONDS = 86_400;
/** How many shared runs that failed a call waits out before it runs alone. */
const MAX_JOINS = 3;

interface Entry {
  /** Settles with the run's result; never rejects. */
  readonly run: Promise<GeneratorResult>;
  /** Set when the run succeeded: `Date.now()` at its end. */
  finishedAt?: number;
  result?: GeneratorResult;
}

const runs = new Map<string, Entry>();

/** Why `value` is not a valid `reuseRunWithinSeconds`, or undefined when it is (or is absent). */
export function checkReuseSeconds(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_REUSE_SECONDS) {
    const shown = typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;
    return `reuseRunWithinSeconds must be a number of seconds from 0 to ${MAX_REUSE_SECONDS} (0: no sharing), got ${shown}`;
  }
  return undefined;
}

/**
 * The identity of a run: everything that decides its rows and where they go. `parts` are the
 * generator's V2 name, the options as sent to the engine (database URL included), the libpq
 * variables and the resolved output directory. Hashed, so that no URL with its password is
 * kept as a key.
 */
export function runKey(parts: unknown): string {
  return createHash('sha256').update(stableJson(parts)).digest('hex');
}

/**
 * Resolves the result of the run identified by `key`: a recent successful one (within `seconds`,
 * its files present), one in flight, or a new one made by `start`. `log` receives one `info`
 * event (phase `run-sharing`) when the call reuses or joins a run. `signal` aborts only a wait.
 */
export async function shareRun(
  key: string,
  seconds: number,
  label: string,
  signal: AbortSignal | undefined,
  log: (event: LogEvent) => void,
  start: () => Promise<GeneratorResult>,
  cancelled: () => GeneratorResult,
): Promise<GeneratorResult> {
  const began = Date.now();
  prune(seconds);
  for (let joins = 0; ; joins++) {
    const entry = runs.get(key);
    if (entry?.result) {
      const age = Date.now() - (entry.finishedAt ?? 0);
      if (age < seconds * 1000 && filesExist(entry.result)) {
        note(log, began, `${label} reusing the identical run that finished ${(age / 1000).toFixed(1)} s ago (${describeRun(entry.result)}): no query`);
        return copy(entry.result);
      }
      runs.delete(key); // expired, or its files are gone: a fresh run
    } else if (entry && joins < MAX_JOINS) {
      note(log, began, `${label} waiting for the identical run in flight`);
      const result = await waitFor(entry.run, signal);
      if (result === 'aborted') return cancelled();
      if (result.success) {
        note(log, began, `${label} reusing the identical run that was in flight (${describeRun(result)})`);
        return copy(result);
      }
      continue; // a failed run is not reused: look again, or run
    }
    return own(key, start);
  }
}

/** Starts the run under `key`; the entry stays only if it succeeds. */
async function own(key: string, start: () => Promise<GeneratorResult>): Promise<GeneratorResult> {
  let settle!: (result: GeneratorResult) => void;
  const entry: Entry = { run: new Promise<GeneratorResult>((resolve) => (settle = resolve)) };
  runs.set(key, entry);
  let result: GeneratorResult;
  try {
    result = await start();
  } catch (error) {
    // `start` resolves failures; a throw is still never kept.
    if (runs.get(key) === entry) runs.delete(key);
    settle({ success: false, csvFiles: [], audienceSize: 0, executionTimeMs: 0, error: String(error), errorCode: 'INTERNAL' });
    throw error;
  }
  if (result.success) {
    entry.finishedAt = Date.now();
    entry.result = copy(result);
  } else if (runs.get(key) === entry) {
    runs.delete(key);
  }
  settle(result);
  return result;
}

/** Drops the entries that no call can reuse any more (successful and older than a day, or than `seconds` when longer). */
function prune(seconds: number): void {
  const horizon = Date.now() - Math.max(seconds, MAX_REUSE_SECONDS) * 1000;
  for (const [key, entry] of runs) {
    if (entry.finishedAt !== undefined && entry.finishedAt < horizon) runs.delete(key);
  }
}

function waitFor(run: Promise<GeneratorResult>, signal: AbortSignal | undefined): Promise<GeneratorResult | 'aborted'> {
  if (!signal) return run;
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const abort = () => resolve('aborted');
    signal.addEventListener('abort', abort, { once: true });
    run.then((result) => {
      signal.removeEventListener('abort', abort);
      resolve(result);
    });
  });
}

/** Every file the run reported is still there (a dry run reports none). */
function filesExist(result: GeneratorResult): boolean {
  const paths = [...result.csvFiles.map((file) => file.path), ...(result.manifestPath ? [result.manifestPath] : [])];
  return paths.every((file) => fs.existsSync(file));
}

function describeRun(result: GeneratorResult): string {
  const stamp = result.manifestPath ? `manifest ${result.manifestPath}` : `${result.csvFiles.length} files`;
  return `${stamp}, ${result.audienceSize} users`;
}

function note(log: (event: LogEvent) => void, began: number, message: string): void {
  log({ level: 'info', message, phase: 'run-sharing', elapsedMs: Date.now() - began, phaseMs: null });
}

/** A copy each caller may change without changing what the next one gets. */
function copy(result: GeneratorResult): GeneratorResult {
  return structuredClone(result);
}

/** JSON with object keys sorted, so that the same options in another order give the same key. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}

/** For tests: forgets every run. */
export function forgetSharedRuns(): void {
  runs.clear();
}
