'use strict';
// Layer 5's V2 contender: the addon called from Node as a host calls it (the built package, dist/).
//   node bench/contenders/layer5-v2.js --database-url URL --as-of ISO --min-hours H --max-days D --output-dir DIR
// Prints the Layer5Result as one JSON line on stdout (bench/layer5.js reads metadata.phasesMs and
// metadata.counts from it). BENCH_V2_DIR: the copy of the package bench/layer5.js takes at its start.
const path = require('node:path');
const pkg = process.env.BENCH_V2_DIR ?? path.join(__dirname, '..', '..');
const { generateLayer5, shutdown } = require(path.join(pkg, 'dist', 'index.js'));

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const logs = [];
  const result = await generateLayer5({
    databaseUrl: args['database-url'],
    asOf: args['as-of'],
    minHours: Number(args['min-hours'] ?? 12),
    maxDays: Number(args['max-days'] ?? 14),
    outputDir: args['output-dir'],
    onLog: (event) => logs.push(event.message),
  });
  await shutdown();
  for (const line of logs) process.stderr.write(`${line}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = result.success ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
