#!/usr/bin/env node
// `npm run compare -- --database-url URL [--as-of ISO] [--lookback-hours 48] [--cooling-hours 12] [--out DIR] [--json]`
//   [--rules v1|v2 | --v1-rules v1|v2 --v2-rules v1|v2 | --explain] [--v1-dir DIR [--v1-stamp S] [--v1-timezone ZONE] [--edge-seconds N]]
// By default each engine runs its own default rules, V1 the production script's (v1) and V2 the
// contract (v2), and every difference must be explained (the same as --explain): 0 it is, 1 some
// are not; likewise with --v1-dir. Under the same rules (--rules v1|v2): 0 V1 and V2 produce the
// same production files, 1 they differ. Always: 2 bad usage, 3 a run failed (nothing compared).
import { listGenerators, shutdown } from './index';
import { CompareUsageError, compareEngines, DEFAULT_COMPARE_SCRIPT_ID, explainCompare, formatExplainReport, formatReport } from './compare';
import { redactSecrets } from './redact';

/** How the command was started: its name in messages, and the command line its usage shows. */
export interface Program {
  name: string;
  command: string;
}

/** `npm run compare -- …` (this file run directly). `audience-engine compare` passes its own. */
export const NPM_SCRIPT: Program = { name: 'compare', command: 'npm run compare --' };

export const usage = (program: Program = NPM_SCRIPT) => `Usage: ${program.command} [options]

Runs the V1 Python script and the V2 native generator on the same database and as-of time (or
reads the files the production script wrote, --v1-dir) and compares their CSV files audience by
audience, user by user.

Modes:
  (default)       each engine under its default rules: V1 under the production script's (v1),
                  V2 under the contract (v2); every differing row attributed to a rule of
                  docs/layer3-contract.md section 9, and "unexplained: N" (also --explain)
  --rules v1|v2   V1 and V2 under the same rules: the files must be the same, byte for byte
  --v1-dir DIR    the files the production script wrote, against V2 under rules v1 at their
                  stamp's time (no V1 run, no Python); with --explain, V2 under rules v2 as well

Options:
  --database-url URL     the database (default: env DATABASE_URL)
  --as-of ISO8601        the "now" of every run (default: the current time, fixed once; with
                         --v1-dir: the time in the V1 file names)
  --lookback-hours N     default 48
  --cooling-hours N      default 12
  --script-id ID         default ${DEFAULT_COMPARE_SCRIPT_ID}; generate_new_user_waterfall (Layer 5,
                         one rule set) checks V1 = V2 byte for byte, with --min-hours N and --max-days N
  --rules v1|v2          the rules of both runs, which must then write the same files (v2: the
                         contract; v1: the production script's, docs/layer3-contract.md section 9)
  --v1-rules v1|v2       V1's rules alone (default: --rules, else v1); --v2-rules v1|v2: V2's
                         alone (default: --rules, else v2). Different rules (v1 for V1, v2 for V2)
                         explain the differences instead of wanting none
  --explain              the same as --v1-rules v1 --v2-rules v2 (the default without --v1-dir)
  --v1-dir DIR           V1's files: recent-<audience>_YYYYMMDD_HHMMSS.csv and _TEST_ twins as the
                         production script writes them (also this package's _YYYYMMDDTHHMMSS names)
  --v1-stamp STAMP       with --v1-dir holding several runs: the run to take (e.g. 20261128_060012)
  --v1-timezone ZONE     the IANA time zone of the stamps in the production file names (default UTC)
  --edge-seconds N       with --v1-dir: a differing row whose user acted within N seconds of an edge
                         of the window is reported apart (the script's now() was before its
                         stamp; default 600)
  --out DIR              V1 files in DIR/v1, V2's in DIR/v2, V2 under rules v1 in DIR/v2-rules-v1
                         (default: a new temp dir, kept for inspection; removed if a run fails)
  --python PATH          python for V1 (default: env AUDIENCE_ENGINE_PYTHON, .venv/bin/python, python3)
  --json                 print the report as JSON
  -h, --help             this text

Exit codes: the default, --explain or --v1-dir: 0 unexplained: 0, 1 some differences are
unexplained; the same rules (--rules): 0 same, 1 different. Always: 2 bad usage, 3 a run failed.`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

interface ParsedArgs {
  databaseUrl?: string;
  asOf?: string;
  lookbackHours?: number;
  /** Layer 5's own options (`--min-hours`, `--max-days`). */
  generatorOptions?: Record<string, number>;
  coolingHours?: number;
  scriptId?: string;
  out?: string;
  python?: string;
  rules?: 'v1' | 'v2';
  v1Rules?: 'v1' | 'v2';
  v2Rules?: 'v1' | 'v2';
  explain: boolean;
  v1Dir?: string;
  v1Stamp?: string;
  v1TimeZone?: string;
  edgeSeconds?: number;
  json: boolean;
  help: boolean;
}

class UsageError extends Error {}

const VALUE_FLAGS = new Set([
  '--database-url',
  '--as-of',
  '--lookback-hours',
  '--cooling-hours',
  '--min-hours',
  '--max-days',
  '--script-id',
  '--out',
  '--python',
  '--rules',
  '--v1-rules',
  '--v2-rules',
  '--v1-dir',
  '--v1-stamp',
  '--v1-timezone',
  '--edge-seconds',
]);

export function parseArgs(argv: string[]): ParsedArgs {
  const parsed: ParsedArgs = { json: false, help: false, explain: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--json') {
      parsed.json = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') {
      parsed.help = true;
      continue;
    }
    if (arg === '--explain') {
      parsed.explain = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!VALUE_FLAGS.has(flag)) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    let value: string | undefined;
    if (flag !== arg) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && VALUE_FLAGS.has(value.split('=')[0]))) {
        throw new UsageError(`${flag} needs a value`);
      }
      i += 1;
    }
    if (value === '') throw new UsageError(`${flag} needs a value`);
    switch (flag) {
      case '--database-url':
        parsed.databaseUrl = value;
        break;
      case '--as-of':
        if (Number.isNaN(Date.parse(value)) || !/(Z|[+-]\d{2}:\d{2})$/i.test(value)) {
          throw new UsageError(`--as-of must be an ISO-8601 date-time with Z or an offset, got ${JSON.stringify(value)}`);
        }
        parsed.asOf = value;
        break;
      case '--lookback-hours':
      case '--cooling-hours':
      case '--min-hours':
      case '--max-days': {
        const n = Number(value);
        if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value) || !Number.isFinite(n)) {
          throw new UsageError(`${flag} must be a finite number, got ${JSON.stringify(value)}`);
        }
        if (flag === '--lookback-hours') parsed.lookbackHours = n;
        else if (flag === '--cooling-hours') parsed.coolingHours = n;
        else parsed.generatorOptions = { ...parsed.generatorOptions, [flag === '--min-hours' ? 'minHours' : 'maxDays']: n };
        break;
      }
      case '--script-id':
        parsed.scriptId = value;
        break;
      case '--out':
        parsed.out = value;
        break;
      case '--python':
        parsed.python = value;
        break;
      case '--rules':
      case '--v1-rules':
      case '--v2-rules':
        if (value !== 'v1' && value !== 'v2') throw new UsageError(`${flag} must be v1 or v2, got ${JSON.stringify(value)}`);
        if (flag === '--rules') parsed.rules = value;
        else if (flag === '--v1-rules') parsed.v1Rules = value;
        else parsed.v2Rules = value;
        break;
      case '--v1-dir':
        parsed.v1Dir = value;
        break;
      case '--v1-stamp':
        if (!/^\d{8}(_\d{6}|T\d{6}(-\d+)?)$/.test(value)) {
          throw new UsageError(`--v1-stamp must be a stamp as in the file names (20261128_060012 or 20261128T060012), got ${JSON.stringify(value)}`);
        }
        parsed.v1Stamp = value;
        break;
      case '--v1-timezone':
        parsed.v1TimeZone = value;
        break;
      case '--edge-seconds': {
        const n = Number(value);
        if (!/^\+?(\d+(\.\d*)?|\.\d+)$/.test(value) || !Number.isFinite(n)) {
          throw new UsageError(`--edge-seconds must be a number of seconds >= 0, got ${JSON.stringify(value)}`);
        }
        parsed.edgeSeconds = n;
        break;
      }
    }
  }
  const lookback = parsed.lookbackHours ?? 48;
  const cooling = parsed.coolingHours ?? 12;
  if (cooling < 0) throw new UsageError(`--cooling-hours must be >= 0, got ${cooling}`);
  if (!(cooling < lookback)) throw new UsageError(`--cooling-hours (${cooling}) must be < --lookback-hours (${lookback})`);
  if (lookback > 87600) throw new UsageError(`--lookback-hours must be <= 87600, got ${lookback}`);
  if (parsed.v1Dir === undefined) {
    for (const [flag, given] of [
      ['--v1-stamp', parsed.v1Stamp],
      ['--v1-timezone', parsed.v1TimeZone],
      ['--edge-seconds', parsed.edgeSeconds],
    ] as const) {
      if (given !== undefined) throw new UsageError(`${flag} goes with --v1-dir`);
    }
  }
  rulesOf(parsed);
  return parsed;
}

/** The rules of V1 and V2 the flags ask for (V1's production files follow rules v1). */
export function rulesOf(args: ParsedArgs): { v1: 'v1' | 'v2'; v2: 'v1' | 'v2' } {
  if (args.explain) {
    if (args.rules !== undefined) throw new UsageError('--explain runs V1 under rules v1 and V2 under v2: leave out --rules');
    if (args.v1Rules === 'v2' || args.v2Rules === 'v1') throw new UsageError('--explain runs V1 under rules v1 and V2 under v2: leave out --v1-rules and --v2-rules');
  }
  if (args.v1Dir !== undefined) {
    if (args.python !== undefined) throw new UsageError('--python has no use with --v1-dir: V1 does not run, its files are read');
    if (args.rules === 'v2' || args.v1Rules === 'v2') {
      throw new UsageError('--v1-dir holds the production script\'s files, which follow rules v1; for V2 under rules v2 pass --explain (or --v2-rules v2)');
    }
    return { v1: 'v1', v2: args.explain ? 'v2' : (args.v2Rules ?? 'v1') };
  }
  // Each engine's default: V1 the production script's rules, V2 the contract. With no rules flag
  // that is the explained comparison (--explain).
  const v1 = args.explain ? 'v1' : (args.v1Rules ?? args.rules ?? 'v1');
  const v2 = args.explain ? 'v2' : (args.v2Rules ?? args.rules ?? 'v2');
  if (v1 === 'v2' && v2 === 'v1') {
    throw new UsageError('V1 under rules v2 against V2 under rules v1 is not a comparison compare explains; use --explain (V1 under v1, V2 under v2)');
  }
  return { v1, v2 };
}

/** Runs the command; resolves the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo(), program: Program = NPM_SCRIPT): Promise<number> {
  // Usage errors are one line, as in the rest of the CLI; values are echoed without passwords.
  const usageError = (message: string) => {
    io.stderr(`${program.name}: ${redactSecrets(message)}; run ${program.command} --help\n`);
    return 2;
  };
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(error.message);
  }
  if (args.help) {
    io.stdout(`${usage(program)}\n`);
    return 0;
  }
  const databaseUrl = args.databaseUrl ?? io.env.DATABASE_URL;
  if (!databaseUrl) return usageError('--database-url (or DATABASE_URL) is required');
  const logger = args.json ? undefined : { info: (m: string) => io.stderr(`${m}\n`), warn: (m: string) => io.stderr(`${m}\n`) };
  const rules = rulesOf(args);
  try {
    // A generator with one rule set (Layer 5) has nothing to explain: V1 must equal V2.
    const oneRuleSet = args.scriptId !== undefined && (await hasOneRuleSet(args.scriptId));
    if (oneRuleSet && (args.v1Dir !== undefined || args.explain || args.rules || args.v1Rules || args.v2Rules)) {
      return usageError(`${args.scriptId} has one rule set: compare checks V1 = V2 byte for byte; leave out --rules, --v1-rules, --v2-rules, --explain and --v1-dir`);
    }
    if (oneRuleSet || (args.v1Dir === undefined && rules.v1 === rules.v2)) {
      const report = await compareEngines({
        databaseUrl,
        asOf: args.asOf,
        lookbackHours: args.lookbackHours,
        coolingHours: args.coolingHours,
        ...(args.generatorOptions ? { generatorOptions: args.generatorOptions } : {}),
        scriptId: args.scriptId,
        outDir: args.out,
        pythonPath: args.python,
        ...(oneRuleSet ? {} : { rules: rules.v1 }),
        env: io.env,
        logger,
      });
      io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
      return report.same ? 0 : 1;
    }
    const report = await explainCompare({
      databaseUrl,
      asOf: args.asOf,
      lookbackHours: args.lookbackHours,
      coolingHours: args.coolingHours,
      scriptId: args.scriptId,
      outDir: args.out,
      pythonPath: args.python,
      v1Dir: args.v1Dir,
      v1Stamp: args.v1Stamp,
      v1TimeZone: args.v1TimeZone,
      edgeSeconds: args.edgeSeconds,
      v2Rules: rules.v2,
      env: io.env,
      logger,
    });
    io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatExplainReport(report)}\n`);
    return report.pass ? 0 : 1;
  } catch (error) {
    const message = redactSecrets((error as Error)?.message ?? String(error), databaseUrl).replace(/^compare: /, '');
    if (error instanceof CompareUsageError) return usageError(message);
    io.stderr(`${program.name}: ${message}\n`);
    return 3;
  } finally {
    await shutdown().catch(() => undefined);
  }
}

/** Whether the generator `scriptId` names has no `rules` option (Layer 5). */
async function hasOneRuleSet(scriptId: string): Promise<boolean> {
  const generator = (await listGenerators()).find((g) => g.name === scriptId || g.legacyScriptIds.includes(scriptId));
  return generator !== undefined && !generator.options.includes('rules');
}

function defaultIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`compare: ${redactSecrets(String(error?.stack ?? error))}\n`);
      process.exitCode = 3;
    },
  );
}
