#!/usr/bin/env node
// `npm run compare -- --database-url URL [--as-of ISO] [--lookback-hours 48] [--cooling-hours 12] [--out DIR] [--json]`
// Exit codes: 0 V1 and V2 produce the same production files, 1 they differ, 2 bad usage,
// 3 a run failed (nothing compared).
import { shutdown } from './index';
import { compareEngines, DEFAULT_COMPARE_SCRIPT_ID, formatReport } from './compare';
import { redactSecrets } from './v1-executor';

export const USAGE = `Usage: npm run compare -- [options]

Runs the V1 Python script and the V2 native generator on the same database and as-of time,
into separate directories, and compares their production CSV files per audience.

Options:
  --database-url URL     the database (default: env DATABASE_URL)
  --as-of ISO8601        the "now" of both runs (default: the current time, fixed once)
  --lookback-hours N     default 48
  --cooling-hours N      default 12
  --script-id ID         default ${DEFAULT_COMPARE_SCRIPT_ID}
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
  json: boolean;
  help: boolean;
}

class UsageError extends Error {}

const VALUE_FLAGS = new Set(['--database-url', '--as-of', '--lookback-hours', '--cooling-hours', '--script-id', '--out', '--python']);

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
    if (!VALUE_FLAGS.has(flag)) throw new UsageError(`unknown argument ${JSON.stringify(redactSecrets(arg))}`);
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
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`compare: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const databaseUrl = args.databaseUrl ?? io.env.DATABASE_URL;
  if (!databaseUrl) {
    io.stderr(`compare: --database-url (or DATABASE_URL) is required\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const report = await compareEngines({
      databaseUrl,
      asOf: args.asOf,
      lookbackHours: args.lookbackHours,
      coolingHours: args.coolingHours,
      scriptId: args.scriptId,
      outDir: args.out,
      pythonPath: args.python,
      env: io.env,
      logger: args.json ? undefined : { info: (m) => io.stderr(`${m}\n`), warn: (m) => io.stderr(`${m}\n`) },
    });
    io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return report.same ? 0 : 1;
  } catch (error) {
    const message = redactSecrets((error as Error)?.message ?? String(error), databaseUrl);
    io.stderr(`${message.startsWith('compare:') ? message : `compare: ${message}`}\n`);
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
