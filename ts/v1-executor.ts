// The V1 executor: runs a legacy Python audience script (`<scriptsDir>/<scriptId>.py`) as a child
// process and turns what it wrote into the same shape as the V2 generator's result.
//
// Contract with the script (legacy/README.md): parameters as flags, DATABASE_URL in the
// environment, progress on stderr, and on success the last stdout line is one JSON object
// `{ success, csvFiles: [{ path, rowCount, isTestFile, audienceType }], audienceSize, metadata }`.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { redactSecrets } from './redact';
import type { CsvFile } from './types';

export { redactSecrets };

/** The package root: the parent of `dist/` (compiled) or `ts/` (sources under ts-jest). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

/** Default time limit of a V1 script run: 10 minutes. */
export const DEFAULT_V1_TIMEOUT_MS = 10 * 60 * 1000;
/** The longest time limit a Node timer can hold. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** How much of the script's stderr an error message carries. */
const STDERR_TAIL_LINES = 20;
const STDERR_TAIL_CHARS = 4000;
/** How much stderr/stdout is kept in memory while the script runs. */
const KEEP_BYTES = 256 * 1024;

export interface V1ExecutorOptions {
  /** The script's id: the file `<scriptsDir>/<scriptId>.py` is run. */
  scriptId: string;
  /**
   * The script's own options, each passed as `--<option in kebab case> <value>`
   * (`{ minHours: 12 }` gives `--min-hours 12`). Default: Layer 3's, from `lookbackHours` and
   * `coolingHours`.
   */
  arguments?: Record<string, number>;
  /** Layer 3's script: `--lookback-hours` (when `arguments` is not given). */
  lookbackHours?: number;
  /** Layer 3's script: `--cooling-hours` (when `arguments` is not given). */
  coolingHours?: number;
  outputDir: string;
  automationId?: string | number;
  /** Passed as `--as-of` (a Date is sent as ISO-8601 UTC). */
  asOf?: Date | string;
  /**
   * Layer 3's row rules (docs/layer3-contract.md, section 9), passed as `--rules <value>`:
   * 'v1' what the production script writes, 'v2' the contract. Undefined passes nothing: the
   * script's own default (Layer 3's script: 'v1', production's rules), and the only choice for a
   * script without the flag (Layer 5's generate_new_user_waterfall.py).
   */
  rules?: 'v1' | 'v2';
  /** Put in the child's environment as DATABASE_URL. Default: `env.DATABASE_URL`. */
  databaseUrl?: string;
  /** Default: `env.AUDIENCE_ENGINE_PYTHON`, then `<package root>/.venv/bin/python` if it exists, then `python3`. */
  pythonPath?: string;
  /** Default: `<package root>/legacy`. */
  scriptsDir?: string;
  /** Default: 10 minutes (whole milliseconds, 1 to 2147483647). On expiry the script's whole process group is killed. */
  timeoutMs?: number;
  /** Aborting kills the script's whole process group and rejects with kind `cancelled`. */
  signal?: AbortSignal;
  /** The environment the defaults are read from and the child inherits. Default: `process.env` at call time. */
  env?: NodeJS.ProcessEnv;
  /** Receives each stderr line of the script (redacted), e.g. for the host's logger. */
  onStderrLine?: (line: string) => void;
}

export interface V1ScriptResult {
  success: true;
  csvFiles: CsvFile[];
  audienceSize: number;
  metadata?: Record<string, unknown>;
  executionTimeMs: number;
  /** The command that ran (python, script), for logs. */
  command: { python: string; script: string };
}

export type V1FailureKind = 'missing_script' | 'spawn_failed' | 'failed' | 'timeout' | 'cancelled' | 'bad_output';

/** A V1 script that could not run, failed, timed out, was cancelled or printed no result. */
export class V1ScriptError extends Error {
  readonly kind: V1FailureKind;
  readonly scriptId: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines of the script's stderr, with any database password redacted. */
  readonly stderrTail: string;
  /** The message without the stderr tail (for a caller that already showed the stderr). */
  readonly summary: string;

  constructor(init: {
    kind: V1FailureKind;
    scriptId: string;
    message: string;
    exitCode?: number | null;
    signal?: NodeJS.Signals | null;
    stderrTail?: string;
  }) {
    // A script id or path echoed in the message may be a database URL put in the wrong place.
    const message = redactSecrets(init.message);
    super(init.stderrTail ? `${message}\n--- stderr (tail) ---\n${init.stderrTail}` : message);
    this.name = 'V1ScriptError';
    this.kind = init.kind;
    this.scriptId = init.scriptId;
    this.exitCode = init.exitCode ?? null;
    this.signal = init.signal ?? null;
    this.stderrTail = init.stderrTail ?? '';
    this.summary = message;
  }
}

/** The python a V1 script runs with (see `V1ExecutorOptions.pythonPath`). */
export function resolvePythonPath(pythonPath?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (pythonPath) return pythonPath;
  if (env.AUDIENCE_ENGINE_PYTHON) return env.AUDIENCE_ENGINE_PYTHON;
  const venv = path.join(PACKAGE_ROOT, '.venv', 'bin', 'python');
  if (fs.existsSync(venv)) return venv;
  return 'python3';
}

export function resolveScriptsDir(scriptsDir?: string): string {
  return path.resolve(scriptsDir ?? path.join(PACKAGE_ROOT, 'legacy'));
}

/** What to do when the script died for want of a Python package (the venv was never made). */
function missingModuleHint(stderr: string): string {
  const missing = /ModuleNotFoundError: No module named '([^']+)'/.exec(stderr)?.[1];
  if (!missing) return '';
  return (
    `: its python has no module ${missing}; install the V1 requirements into a venv ` +
    `(\`python3 -m venv DIR && DIR/bin/pip install -r ${path.join(PACKAGE_ROOT, 'legacy', 'requirements.txt')}\`) ` +
    `and set AUDIENCE_ENGINE_PYTHON=DIR/bin/python (in a clone of the repository: \`bash scripts/setup-python.sh\`)`
  );
}

/** The last lines of `text` (at most STDERR_TAIL_LINES lines / STDERR_TAIL_CHARS characters), redacted before they are cut. */
export function tailOf(text: string, databaseUrl?: string): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  const tail = redactSecrets(lines.slice(-STDERR_TAIL_LINES).join('\n'), databaseUrl);
  return tail.length > STDERR_TAIL_CHARS ? `…${tail.slice(-STDERR_TAIL_CHARS)}` : tail;
}

/** Runs `<python> <scriptsDir>/<scriptId>.py` and resolves its parsed result; rejects with a V1ScriptError. */
export async function runV1Script(options: V1ExecutorOptions): Promise<V1ScriptResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const scriptId = options.scriptId;
  if (typeof scriptId !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(scriptId) || scriptId.startsWith('.')) {
    throw new V1ScriptError({ kind: 'missing_script', scriptId: String(scriptId), message: `V1 script id ${JSON.stringify(scriptId)} is not a valid script name` });
  }
  const scriptsDir = resolveScriptsDir(options.scriptsDir);
  const script = path.join(scriptsDir, `${scriptId}.py`);
  if (!fs.existsSync(script)) {
    throw new V1ScriptError({ kind: 'missing_script', scriptId, message: `V1 script ${scriptId} not found: ${script} does not exist` });
  }
  const python = resolvePythonPath(options.pythonPath, env);
  const databaseUrl = options.databaseUrl ?? env.DATABASE_URL;
  const timeoutMs = options.timeoutMs ?? DEFAULT_V1_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new RangeError(`timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${String(timeoutMs)}`);
  }
  if (options.rules !== undefined && options.rules !== 'v1' && options.rules !== 'v2') {
    throw new RangeError(`rules must be 'v1' or 'v2', got ${JSON.stringify(options.rules)}`);
  }
  if (options.signal?.aborted) {
    throw new V1ScriptError({ kind: 'cancelled', scriptId, message: `V1 script ${scriptId} was cancelled before it started` });
  }

  const args = [script];
  const scriptArguments = options.arguments ?? { lookbackHours: options.lookbackHours, coolingHours: options.coolingHours };
  for (const [option, value] of Object.entries(scriptArguments)) {
    if (value === undefined) continue;
    args.push(`--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(value));
  }
  args.push('--output-dir', path.resolve(options.outputDir));
  if (options.automationId !== undefined && options.automationId !== null && options.automationId !== '') {
    args.push('--automation-id', String(options.automationId));
  }
  if (options.asOf !== undefined && options.asOf !== null) {
    args.push('--as-of', options.asOf instanceof Date ? options.asOf.toISOString() : String(options.asOf));
  }
  if (options.rules !== undefined) args.push('--rules', options.rules);

  const childEnv: NodeJS.ProcessEnv = { ...env };
  if (childEnv.PATH === undefined && process.env.PATH !== undefined) childEnv.PATH = process.env.PATH;
  // Only the flags above decide the run: no stale AS_OF from the host's environment.
  if (options.asOf === undefined || options.asOf === null) delete childEnv.AS_OF;
  if (databaseUrl) childEnv.DATABASE_URL = databaseUrl;
  else delete childEnv.DATABASE_URL;
  childEnv.PYTHONUNBUFFERED = '1';

  const describe = `V1 script ${scriptId} (${python} ${script})`;

  return new Promise<V1ScriptResult>((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(python, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (error) {
      reject(
        new V1ScriptError({
          kind: 'spawn_failed',
          scriptId,
          message: `${describe} could not be started: ${redactSecrets((error as Error).message, databaseUrl)}`,
        }),
      );
      return;
    }

    let stdout = '';
    let stderr = '';
    let partialLine = '';
    let timedOut = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;

    const keep = (buffer: string, chunk: string) => {
      const joined = buffer + chunk;
      return joined.length > KEEP_BYTES ? joined.slice(-KEEP_BYTES) : joined;
    };
    const emitLine = (line: string) => {
      if (!options.onStderrLine || line === '') return;
      try {
        options.onStderrLine(redactSecrets(line, databaseUrl));
      } catch {
        // A throwing log callback must not break the run.
      }
    };

    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout = keep(stdout, chunk);
    });
    child.stderr!.on('data', (chunk: string) => {
      stderr = keep(stderr, chunk);
      const lines = (partialLine + chunk).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) emitLine(line.replace(/\r$/, ''));
    });

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
    };

    let cancelled = false;
    let stopping = false;
    // Once: a second SIGTERM would land in the script's own cleanup.
    const stop = () => {
      if (stopping) return;
      stopping = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), 2000);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    const onAbort = () => {
      // After the script has exited an abort comes too late for its files; what it may have
      // left running (holding the pipes open) is killed all the same.
      if (exited) killGroup('SIGKILL');
      else {
        cancelled = true;
        stop();
      }
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const fail = (error: V1ScriptError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    };

    child.on('error', (error: NodeJS.ErrnoException) => {
      // Raised when the python cannot be started (ENOENT, EACCES); `close` may not follow.
      fail(
        new V1ScriptError({
          kind: 'spawn_failed',
          scriptId,
          message: `${describe} could not be started: ${redactSecrets(error.message, databaseUrl)}`,
          stderrTail: tailOf(stderr, databaseUrl),
        }),
      );
    });

    child.on('close', (code, signal) => {
      emitLine(partialLine.replace(/\r$/, ''));
      partialLine = '';
      const lastLine = stdout.replace(/\s+$/, '').split('\n').pop()?.trim() ?? '';
      let parsed: unknown;
      try {
        parsed = lastLine ? JSON.parse(lastLine) : undefined;
      } catch {
        parsed = undefined;
      }
      const result = validateResult(parsed);
      // A script that finished (exit 0, a valid result) has written its files: a timeout or an
      // abort that came meanwhile is too late, and the run succeeded.
      if (code === 0 && typeof result !== 'string') {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve({ ...result, executionTimeMs: Date.now() - started, command: { python, script } });
        return;
      }
      if (timedOut || cancelled) {
        // Make sure nothing the script started outlives it.
        killGroup('SIGKILL');
        fail(
          new V1ScriptError({
            kind: timedOut ? 'timeout' : 'cancelled',
            scriptId,
            message: timedOut ? `${describe} timed out after ${timeoutMs} ms and was killed` : `${describe} was cancelled and killed`,
            exitCode: code,
            signal,
            stderrTail: tailOf(stderr, databaseUrl),
          }),
        );
        return;
      }
      if (code !== 0) {
        const how = signal ? `was killed by ${signal}` : `failed with exit code ${code}${code === 2 ? ' (bad input)' : ''}`;
        fail(
          new V1ScriptError({
            kind: 'failed',
            scriptId,
            message: `${describe} ${how}${missingModuleHint(stderr)}`,
            exitCode: code,
            signal,
            stderrTail: tailOf(stderr, databaseUrl),
          }),
        );
        return;
      }
      fail(
        new V1ScriptError({
          kind: 'bad_output',
          scriptId,
          message: `${describe} exited 0 but its last stdout line is not a valid JSON result (${result}): ${JSON.stringify(
            redactSecrets(lastLine, databaseUrl).slice(0, 300),
          )}`,
          exitCode: code,
          stderrTail: tailOf(stderr, databaseUrl),
        }),
      );
    });
  });
}

type ParsedResult = Pick<V1ScriptResult, 'success' | 'csvFiles' | 'audienceSize' | 'metadata'>;

/** The parsed JSON result, or a string saying what is wrong with it. */
function validateResult(value: unknown): ParsedResult | string {
  if (value === undefined) return 'no JSON on the last line';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const record = value as Record<string, unknown>;
  if (record.success !== true) return `success is ${JSON.stringify(record.success)}`;
  if (!Array.isArray(record.csvFiles)) return 'csvFiles is not an array';
  const csvFiles: CsvFile[] = [];
  for (const file of record.csvFiles) {
    if (!file || typeof file !== 'object' || typeof (file as CsvFile).path !== 'string') return 'a csvFiles entry has no path';
    const f = file as Partial<CsvFile>;
    csvFiles.push({
      path: path.resolve(f.path as string),
      rowCount: typeof f.rowCount === 'number' ? f.rowCount : 0,
      isTestFile: f.isTestFile === true,
      audienceType: typeof f.audienceType === 'string' ? f.audienceType : '',
    });
  }
  const audienceSize =
    typeof record.audienceSize === 'number'
      ? record.audienceSize
      : csvFiles.filter((f) => !f.isTestFile).reduce((sum, f) => sum + f.rowCount, 0);
  const metadata =
    record.metadata && typeof record.metadata === 'object' && !Array.isArray(record.metadata)
      ? (record.metadata as Record<string, unknown>)
      : undefined;
  return { success: true, csvFiles, audienceSize, metadata };
}
