'use strict';
// `npm run demo`: the main job end to end on a fresh machine. Starts a throwaway
// PostgreSQL, loads a small synthetic marketplace (bench/datagen.sql), runs
// generateLayer3 as a host would, and prints the result and the first rows of each file.
//
// Options: --users N (default 20000), --out DIR (default .script-outputs).
const fs = require('node:fs');
const path = require('node:path');

const { startPostgres, createDatabase } = require('./pg-server.js');
const { prepareDatabase, generate: generateData, T0 } = require('../bench/datagen.js');
const engine = require('../dist/index.js');

function argument(name, fallback) {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1];
}

async function main() {
  const users = Number(argument('--users', '20000'));
  const outputDir = path.resolve(argument('--out', '.script-outputs'));
  console.log('Starting a throwaway PostgreSQL…');
  const server = await startPostgres();
  try {
    const url = await createDatabase(server.url, 'demo');
    await prepareDatabase(url);
    console.log(`Loading a synthetic marketplace of ${users} users…`);
    await generateData(url, { users, quiet: true });

    // The synthetic activity ends at T0; "now" is 12 hours later, as in the benchmark.
    const asOf = new Date(Date.parse(T0) + 12 * 3600_000);
    console.log(`\nRunning generateLayer3({ asOf: ${asOf.toISOString()}, outputDir: ${outputDir} })\n`);
    const result = await engine.generateLayer3({ databaseUrl: url, asOf, outputDir, automationId: 'demo' });
    console.log('\nResult:');
    console.log(JSON.stringify(result, null, 2));
    if (!result.success) process.exitCode = 1;
    for (const file of result.csvFiles.filter((f) => !f.isTestFile)) {
      const lines = fs.readFileSync(file.path, 'utf8').split('\n').slice(0, 4);
      console.log(`\n${path.relative(process.cwd(), file.path)} (${file.rowCount} rows), first lines:`);
      for (const line of lines) console.log(`  ${line}`);
    }
  } finally {
    await engine.shutdown();
    await server.stop();
  }
}

main().catch((error) => {
  // A server that does not start says why in one sentence; anything else keeps its stack.
  console.error(error?.code === 'PG_SERVER_START' ? error.message : error);
  process.exit(1);
});
