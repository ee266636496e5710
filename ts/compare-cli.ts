#!/usr/bin/env node
// `npm run compare -- --database-url URL [--as-of ISO] [--lookback-hours 48] [--cooling-hours 12] [--out DIR] [--json]`
// Exit codes: 0 V1 and V2 produce the same production files, 1 they differ, 2 bad usage,
// 3 a run failed (nothing compared).
import { shutdown } from './index';
import { compareEngines, DEFAULT_COMPARE_SCRIPT_ID, formatReport } from './compare';
import { redactSecrets } from './redact';

/** How the command was started: its name in messages, and the command line its usage shows. */
export interface Program {
  name: string;
  command: string;
}

/** `npm run compare -- …` (this file run directly). `audience-engine compare` passes its own. */
export const NPM_SCRIPT: Program = { name: 'compare', command: 'npm run compare --' };

export const usage = (program: Program = NPM_SCRIPT) => `Usage: ${program.command} [options]

Runs the V1 Python script and the V2 native generator on the same database and as-of time,
into separate directories, and compares their production CSV files per audience.

Options:
  --database-url URL     the database (default: env DATABASE_URL)
  --as-of ISO8601        the "now" of both runs (default: the current time, fixed once)
  --lookback-hours N     default 48
  --cooling-hours N      default 12
  --script-id ID         default ${DEFAULT_COMPARE_SCRIPT_ID}
  --rules v1|v2          the row rules of both runs (default v2; v1: the production script's,
                         docs/layer3-contract.md section 9)
  --out DIR              V1 files in DIR/v1, V2 files in DIR/v2 (default: a new temp dir,
                         kept for inspection; removed if a run fails)
  --python PATH          python for V1 (default: env AUDIENCE_ENGINE_PYTHON, .venv/bin/python, python3)
  --json                 print the report as JSON
  -h, --help             this text

Exit codes: 0 same, 1 different, 2 bad usage, 3 a run failed.`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

interface ParsedArgs {
  databaseUrl?: string;
  asOf?: string;
  lookbackHours?: number;
  coolingHours?: number;
  scriptId?: string;
  out?: string;
  python?: string;
  rules?: 'v1' | 'v2';
  json: boolean;
  help: boolean;
}

class UsageError extends Error {}

const VALUE_FLAGS = new Set(['--database-url', '--as-of', '--lookback-hours', '--cooling-hours', '--script-id', '--out', '--python', '--rules']);

export function parseArgs(argv: string[]): ParsedArgs {
  const parsed: ParsedArgs = { json: false, help: false };
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
      case '--cooling-hours': {
        const n = Number(value);
        if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value) || !Number.isFinite(n)) {
          throw new UsageError(`${flag} must be a finite number, got ${JSON.stringify(value)}`);
        }
        if (flag === '--lookback-hours') parsed.lookbackHours = n;
        else parsed.coolingHours = n;
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
        if (value !== 'v1' && value !== 'v2') throw new UsageError(`--rules must be v1 or v2, got ${JSON.stringify(value)}`);
        parsed.rules = value;
        break;
    }
  }
  const lookback = parsed.lookbackHours ?? 48;
  const cooling = parsed.coolingHours ?? 12;
  if (cooling < 0) throw new UsageError(`--cooling-hours must be >= 0, got ${cooling}`);
  if (!(cooling < lookback)) throw new UsageError(`--cooling-hours (${cooling}) must be < --lookback-hours (${lookback})`);
  if (lookback > 87600) throw new UsageError(`--lookback-hours must be <= 87600, got ${lookback}`);
  return parsed;
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
  try {
    const report = await compareEngines({
      databaseUrl,
      asOf: args.asOf,
      lookbackHours: args.lookbackHours,
      coolingHours: args.coolingHours,
      scriptId: args.scriptId,
      outDir: args.out,
      pythonPath: args.python,
      ...(args.rules ? { rules: args.rules } : {}),
      env: io.env,
      logger: args.json ? undefined : { info: (m) => io.stderr(`${m}\n`), warn: (m) => io.stderr(`${m}\n`) },
    });
    io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return report.same ? 0 : 1;
  } catch (error) {
    const message = redactSecrets((error as Error)?.message ?? String(error), databaseUrl).replace(/^compare: /, '');
    io.stderr(`${program.name}: ${message}\n`);
    return 3;
  } finally {
    await shutdown().catch(() => undefined);
  }
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
