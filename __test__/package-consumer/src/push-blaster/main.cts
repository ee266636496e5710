// Runs the two host fixtures (seed-host.cts, upstream-host.cts) against a real database, as
// push-blaster's automation engine runs its V2 branch: the flag read when the host module is
// loaded, `has()`, `get()`, then `generate()` with the automation's parameters and
// `outputDir: '.script-outputs'` (relative to the process's directory, as in push-blaster).
//
// Run by scripts/test-package.js from the consumer project's directory, twice: with
// AUTOMATION_ENGINE_VERSION=v2 (EXPECT_ENGINE=v2) and without it (EXPECT_ENGINE=v1), with
//   DATABASE_URL  the synthetic marketplace of main.cts
//   AS_OF         the "now" main.cts uses; the marketplace's activity ends 12 h before it
// Prints one `ok - <check>` or `not ok - <check>: <why>` line per check; exits 1 if any failed.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { generatorRegistry, shutdown } from 'audience-engine';

import { HostLog, type AutomationPush, type UniversalAutomation } from './automation.cjs';
import { AUTOMATION_ENGINE_VERSION as SEED_FLAG, SeedAutomationEngine } from './seed-host.cjs';
import { AUTOMATION_ENGINE_VERSION as UPSTREAM_FLAG, UpstreamAutomationEngine } from './upstream-host.cjs';

const SCRIPT_ID = 'generate_layer_3_push_csvs';
const OUTPUT_DIR = path.resolve('.script-outputs');
const SEED_AUDIENCES = ['closet_add', 'offer_created', 'wishlist_add'];
let failures = 0;

function check(name: string, ok: boolean, detail = ''): boolean {
  if (ok) console.log(`ok - push-blaster host: ${name}`);
  else {
    failures += 1;
    console.log(`not ok - push-blaster host: ${name}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The CSV files in `.script-outputs`, absolute paths. */
function outputFiles(): string[] {
  if (!fs.existsSync(OUTPUT_DIR)) return [];
  return fs.readdirSync(OUTPUT_DIR).filter((name) => name.endsWith('.csv')).map((name) => path.join(OUTPUT_DIR, name));
}

function dataRows(file: string): number {
  return fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '').length - 1;
}

async function main(): Promise<void> {
  required('DATABASE_URL');
  const asOf = Date.parse(required('AS_OF'));
  const expected = required('EXPECT_ENGINE');

  // A host passes no asOf: "now" is the database's. The marketplace's activity ended in the
  // past, so the automation's look-back reaches back to the window start main.cts uses
  // (asOf − 36 h); the window then ends 12 h before now, after the last activity.
  const lookbackHours = (Date.now() - (asOf - 36 * 3600_000)) / 3600_000 + 12;
  const automation: UniversalAutomation = {
    id: 'push-blaster-host',
    name: 'Layer 3 behavior',
    audienceCriteria: {
      customScript: { scriptId: SCRIPT_ID, scriptName: 'Layer 3 push CSVs', parameters: { lookback_hours: lookbackHours, cooling_hours: 12 } },
    },
  };
  const push: AutomationPush = { id: 'push-1', automationId: automation.id, sequenceOrder: 1, title: 'Offer creators', layerId: 3 };

  check(`both hosts read AUTOMATION_ENGINE_VERSION at import: ${expected}`, SEED_FLAG === expected && UPSTREAM_FLAG === expected, `${SEED_FLAG} / ${UPSTREAM_FLAG}`);
  check('the registry knows the legacy script id and the V2 name', generatorRegistry.has(SCRIPT_ID) && generatorRegistry.has('layer3-behavior'));

  const seedLog = new HostLog();
  const seedHost = new SeedAutomationEngine(seedLog);
  const upstreamLog = new HostLog();
  const upstreamHost = new UpstreamAutomationEngine(upstreamLog);

  if (expected === 'v1') {
    await seedHost.executeAudienceGeneration(automation);
    await upstreamHost.generatePushAudience(automation, push);
    check('with the flag unset both hosts take their V1 branch', seedHost.v1Runs === 1 && upstreamHost.v1Runs === 1, [...seedLog.lines, ...upstreamLog.lines].join(' | '));
    check('... and no V2 file is written', outputFiles().length === 0, outputFiles().join(', '));
    await shutdown();
    return;
  }

  // The seed's host: synchronous registry, the result mapped to paths.
  const before = new Set(outputFiles());
  const seedResult = await seedHost.executeAudienceGeneration(automation);
  const seedFiles = [...seedResult.csvPaths, ...seedResult.testCsvPaths];
  check('seed host (sync registry): V2 ran', seedHost.v1Runs === 0 && seedLog.lines.some((l) => l.includes('V2 generator')), seedLog.lines.join(' | '));
  check(
    'seed host: 3 production and 3 TEST files, written in .script-outputs',
    seedResult.csvPaths.length === 3 && seedResult.testCsvPaths.length === 3 && seedFiles.every((f) => path.dirname(f) === OUTPUT_DIR && fs.existsSync(f)),
    JSON.stringify(seedResult),
  );
  check(
    'seed host: audienceSize is the production files\' rows, and positive',
    seedResult.audienceSize > 0 && seedResult.audienceSize === seedResult.csvPaths.reduce((sum, f) => sum + dataRows(f), 0),
    String(seedResult.audienceSize),
  );
  check('seed host: the TEST files have one row each', seedResult.testCsvPaths.every((f) => dataRows(f) === 1 && /TEST/.test(path.basename(f))));

  // The deployed host: async registry, the result only logged.
  const beforeUpstream = new Set(outputFiles());
  await upstreamHost.generatePushAudience(automation, push);
  const written = outputFiles().filter((f) => !beforeUpstream.has(f));
  const summary = upstreamLog.lines.find((l) => l.startsWith('V2 done: ')) ?? '';
  const timing = upstreamLog.lines.find((l) => l.startsWith('V2 generator: ')) ?? '';
  const named = (upstreamLog.lines.find((l) => l.startsWith('files: ')) ?? 'files: ').slice('files: '.length).split(', ').filter(Boolean);
  check('upstream host (async registry): V2 ran and resolved', upstreamHost.v1Runs === 0 && summary !== '', upstreamLog.lines.join(' | '));
  check(
    'upstream host: it logs the audience size and csvFiles.length 6',
    new RegExp(`^V2 done: ${seedResult.audienceSize} users, 6 files$`).test(summary),
    `${summary} (seed host: ${seedResult.audienceSize})`,
  );
  check('upstream host: it logs executionTimeMs, a number', /^V2 generator: \d+ users in \d+(\.\d+)?ms$/.test(timing), timing);
  check(
    'upstream host: the csvFiles[].path it logs are the 6 new files in .script-outputs',
    named.length === 6 && written.length === 6 && named.every((f) => written.includes(f)),
    `logged ${named.join(', ')}; new ${written.join(', ')}`,
  );
  check('the two runs wrote separate files (no file overwritten)', seedFiles.every((f) => !before.has(f) && !written.includes(f)));

  // The result in the seed's dialect, as the registry hands it out.
  const generator = generatorRegistry.get(SCRIPT_ID);
  const dry = await generator!.generate({ lookbackHours, coolingHours: 12, dryRun: true, onLog: () => undefined });
  const metadata = dry.metadata;
  check(
    'a dry run\'s metadata carries the seed\'s three counts, which sum to audienceSize',
    dry.success &&
      [metadata?.offer_created, metadata?.closet_add, metadata?.wishlist_add].every((n) => typeof n === 'number') &&
      (metadata?.offer_created ?? 0) + (metadata?.closet_add ?? 0) + (metadata?.wishlist_add ?? 0) === dry.audienceSize &&
      dry.csvFiles.length === 0,
    JSON.stringify({ success: dry.success, error: dry.error, audienceSize: dry.audienceSize, offer_created: metadata?.offer_created, closet_add: metadata?.closet_add, wishlist_add: metadata?.wishlist_add }),
  );
  check('... beside the engine\'s own metadata (dryRun, counts)', metadata?.dryRun === true && typeof metadata?.counts.activityRows.total === 'number');
  const real = await generator!.generate({ lookbackHours, coolingHours: 12, outputDir: '.script-outputs', onLog: () => undefined });
  check(
    'csvFiles carry the seed\'s audience types',
    real.success && JSON.stringify([...new Set(real.csvFiles.map((f) => f.audienceType))].sort()) === JSON.stringify(SEED_AUDIENCES),
    JSON.stringify(real.csvFiles.map((f) => f.audienceType)),
  );
  const validation = await generator!.validate();
  check('validate() finds the database, the schema and .script-outputs usable', validation.valid && validation.errors.length === 0, validation.errors.join('; '));

  // A failed run: the hosts throw with the result's error, which names the cause.
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = 'postgres://host-fixture:secret@127.0.0.1:1/none';
  const thrown = await upstreamHost.generatePushAudience(automation, push).then(
    () => '',
    (error: Error) => error.message,
  );
  process.env.DATABASE_URL = saved;
  check(
    'a failed run: the upstream host throws "V2 generator failed: <error>" with the cause and no password',
    thrown.startsWith('V2 generator failed: ') && !thrown.includes('undefined') && !thrown.includes('secret') && /database could not be reached/.test(thrown),
    thrown,
  );

  await shutdown();
}

main().then(
  () => {
    process.exitCode = failures === 0 ? 0 : 1;
  },
  (error: unknown) => {
    console.log(`not ok - push-blaster host: the fixture threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
