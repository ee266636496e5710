'use strict';
// Contender 1: V2, called from Node exactly as a host calls it (the built package, dist/).
//   node bench/contenders/v2.js --database-url URL --as-of ISO --lookback-hours H --cooling-hours C --output-dir DIR [--rules v1]
// Prints the GeneratorResult as one JSON line on stdout (run.js reads phasesMs from it).
// BENCH_V2_DIR: a copy of the package (index.js, the .node, dist/) that bench/run.js takes at its
// start, so a rebuild in the working tree during a benchmark does not change the contender.
const path = require('node:path');
const pkg = process.env.BENCH_V2_DIR ?? path.join(__dirname, '..', '..');
const { generateLayer3, shutdown } = require(path.join(pkg, 'dist', 'index.js'));

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const logs = [];
  const result = await generateLayer3({
    databaseUrl: args['database-url'],
    asOf: args['as-of'],
    lookbackHours: Number(args['lookback-hours'] ?? 48),
    coolingHours: Number(args['cooling-hours'] ?? 12),
    outputDir: args['output-dir'],
    minInventoryCount: Number(args['min-inventory-count'] ?? 3),
    minWishlistCount: Number(args['min-wishlist-count'] ?? 2),
    ...(args.rules ? { rules: args.rules } : {}),
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
