// The consumer of the installed package: what push-blaster does with it, checked.
//
// Run by scripts/test-package.js after `npm install` of the packed tarballs, with
//   DATABASE_URL            a PostgreSQL loaded with a synthetic marketplace
//   AS_OF                   the "now" of the runs (the marketplace's activity ends 12 h before)
//   OUT_DIR                 an empty directory for the CSV files
//   AUDIENCE_ENGINE_PYTHON  a python with psycopg (for V1)
// Prints one `ok - <check>` or `not ok - <check>: <why>` line per check; exits 1 if any failed.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { generate, generateLayer3, listGenerators, shutdown } from 'audience-engine';
import type { CsvFile, GeneratorResult, LogEvent } from 'audience-engine';
import { executeAudienceGeneration } from 'audience-engine/automation';
import type { AudienceGenerationResult, Automation, AutomationLogger } from 'audience-engine/automation';

const SCRIPT_ID = 'generate_layer_3_push_csvs';
let failures = 0;

function check(name: string, ok: boolean, detail = ''): boolean {
  if (ok) console.log(`ok - ${name}`);
  else {
    failures += 1;
    console.log(`not ok - ${name}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** A logger that keeps every line, as push-blaster's logger would write them to its log. */
function memoryLogger(): AutomationLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (msg) => void lines.push(msg),
    warn: (msg) => void lines.push(msg),
    error: (msg) => void lines.push(msg),
  };
}

function dataRows(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  return text.split('\n').filter((line) => line !== '').length - 1;
}

/** `recent-offer-creators_20261101T120000.csv` -> `recent-offer-creators`. */
function prefixOf(file: string): string {
  return path.basename(file).replace(/_\d{8}T\d{6}(-\d+)?\.csv$/, '');
}

function filesByPrefix(paths: string[]): Map<string, string> {
  return new Map(paths.map((p) => [prefixOf(p), p]));
}

async function main(): Promise<void> {
  const databaseUrl = required('DATABASE_URL');
  const asOf = required('AS_OF');
  const outDir = required('OUT_DIR');
  required('AUDIENCE_ENGINE_PYTHON');

  // Where the binary came from: the platform package, not a local file nor an override.
  check('NAPI_RS_NATIVE_LIBRARY_PATH is not set', process.env.NAPI_RS_NATIVE_LIBRARY_PATH === undefined);
  const generators = await listGenerators();
  const loaded = Object.keys(require.cache).filter((file) => file.endsWith('.node'));
  check(
    'the binary loads from the platform package',
    loaded.length === 1 && /[\\/]node_modules[\\/]audience-engine-linux-x64-gnu[\\/]audience-engine\.linux-x64-gnu\.node$/.test(loaded[0] ?? ''),
    JSON.stringify(loaded),
  );
  check(
    'listGenerators() lists layer3-behavior with its legacy id',
    generators.some((g) => g.name === 'layer3-behavior' && g.legacyScriptIds.includes(SCRIPT_ID)),
    JSON.stringify(generators),
  );

  const packageRoot = path.dirname(require.resolve('audience-engine/package.json'));
  check(
    'the V1 script ships inside the installed package',
    packageRoot.split(path.sep).includes('node_modules') && fs.existsSync(path.join(packageRoot, 'legacy', `${SCRIPT_ID}.py`)),
    packageRoot,
  );

  // A dry run: everything computed, nothing written.
  const dryDir = path.join(outDir, 'dry');
  const logs: LogEvent[] = [];
  const dry: GeneratorResult = await generate(SCRIPT_ID, { dryRun: true, asOf, outputDir: dryDir, databaseUrl, onLog: (e) => void logs.push(e) });
  check('dry run succeeds', dry.success, `${dry.errorCode}: ${dry.error}`);
  check('dry run reports dryRun and an audience', dry.metadata?.dryRun === true && dry.audienceSize > 0, `audienceSize ${dry.audienceSize}`);
  check('dry run writes no file', !fs.existsSync(dryDir) || fs.readdirSync(dryDir).length === 0);
  check('dry run logs through onLog', logs.some((e) => e.message.startsWith('[layer3-behavior]')));

  // A real run, DATABASE_URL from the environment as a host would have it.
  const realDir = path.join(outDir, 'real');
  const real = await generateLayer3({ asOf, outputDir: realDir, automationId: 'package-consumer', onLog: () => undefined });
  check('real run succeeds', real.success, `${real.errorCode}: ${real.error}`);
  const production = real.csvFiles.filter((f: CsvFile) => !f.isTestFile);
  check('real run writes 3 production and 3 TEST files', production.length === 3 && real.csvFiles.length === 6, JSON.stringify(real.csvFiles));
  check(
    'each file exists with the reported row count',
    real.csvFiles.every((f) => fs.existsSync(f.path) && dataRows(f.path) === f.rowCount),
  );
  check(
    'audienceSize is the production rows, as in the dry run',
    real.audienceSize === production.reduce((sum, f) => sum + f.rowCount, 0) && real.audienceSize === dry.audienceSize,
    `real ${real.audienceSize}, dry ${dry.audienceSize}`,
  );
  check('the run manifest is written', typeof real.manifestPath === 'string' && fs.existsSync(real.manifestPath));

  const unknown = await generate('no-such-generator');
  check('an unknown generator resolves UNKNOWN_GENERATOR', !unknown.success && unknown.errorCode === 'UNKNOWN_GENERATOR');

  // Both engines through the routing module, as push-blaster's automation engine calls it, both
  // under the contract's rules (`rules: 'v2'`: V1's own default is the production script's).
  const automation: Automation = {
    id: 'package-consumer',
    audienceCriteria: { customScript: { scriptId: SCRIPT_ID, parameters: { lookback_hours: 48, cooling_hours: 12 } } },
  };

  const v1Log = memoryLogger();
  const v1: AudienceGenerationResult = await executeAudienceGeneration(automation, {
    env: { ...process.env, AUTOMATION_ENGINE_VERSION: 'v1' },
    outputDir: path.join(outDir, 'v1'),
    asOf,
    rules: 'v2',
    logger: v1Log,
  });
  check('V1 runs: the log says so', v1Log.lines.includes(`[AutomationEngine] Using V1 Python script executor for ${SCRIPT_ID}`), v1Log.lines.slice(0, 3).join(' | '));
  check('V1 writes 3 production and 3 TEST files', v1.success && v1.csvPaths.length === 3 && v1.testCsvPaths.length === 3 && [...v1.csvPaths, ...v1.testCsvPaths].every((p) => fs.existsSync(p)));
  check('V1 audience size equals V2', v1.audienceSize === real.audienceSize, `V1 ${v1.audienceSize}, V2 ${real.audienceSize}`);

  // The switch as operators flip it: AUTOMATION_ENGINE_VERSION in the process environment, read at call time.
  process.env.AUTOMATION_ENGINE_VERSION = 'v2';
  const v2Log = memoryLogger();
  const v2 = await executeAudienceGeneration(automation, { outputDir: path.join(outDir, 'v2'), asOf, rules: 'v2', logger: v2Log });
  check('V2 runs: the log says so', v2Log.lines.includes(`[AutomationEngine] Using V2 native generator for ${SCRIPT_ID}`), v2Log.lines.slice(0, 3).join(' | '));
  check('V2 writes 3 production and 3 TEST files', v2.success && v2.csvPaths.length === 3 && v2.testCsvPaths.length === 3 && [...v2.csvPaths, ...v2.testCsvPaths].every((p) => fs.existsSync(p)));
  check('V2 audience size equals V1', v2.audienceSize === v1.audienceSize, `V1 ${v1.audienceSize}, V2 ${v2.audienceSize}`);

  const v1Files = filesByPrefix(v1.csvPaths);
  const v2Files = filesByPrefix(v2.csvPaths);
  const differing = [...v1Files].filter(([prefix, file]) => {
    const other = v2Files.get(prefix);
    return other === undefined || !fs.readFileSync(file).equals(fs.readFileSync(other));
  });
  check('V1 and V2 production files are byte-identical (rules v2)', v1Files.size === 3 && differing.length === 0, differing.map(([p]) => p).join(', '));

  await shutdown();
  check('shutdown() closes the pools', true);
}

main().then(
  () => {
    process.exitCode = failures === 0 ? 0 : 1;
  },
  (error: unknown) => {
    console.log(`not ok - the consumer threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
