'use strict';
// The V2 contender: a generator called from Node exactly as a host calls it (the built package, dist/).
//   node bench/contenders/v2.js [--generator NAME] --database-url URL --as-of ISO --output-dir DIR [--<option> VALUE ...]
// --generator defaults to layer3-behavior; every other flag is the generator's option in kebab
// case (`--lookback-hours 48` is lookbackHours, `--min-hours 12` is minHours, `--rules v1`),
// numbers passed as numbers. Prints the result as one JSON line on stdout (run.js and layer5.js
// read metadata.phasesMs, layer5.js metadata.counts, from it).
// BENCH_V2_DIR: a copy of the package (index.js, the .node, dist/) that the benchmark takes at its
// start, so a rebuild in the working tree during a benchmark does not change the contender.
const path = require('node:path');
const pkg = process.env.BENCH_V2_DIR ?? path.join(__dirname, '..', '..');
const { generate, shutdown } = require(path.join(pkg, 'dist', 'index.js'));

const camel = (flag) => flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

function parseArgs(argv) {
  const options = {};
  let generator = 'layer3-behavior';
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (name === 'generator') generator = value;
    else options[camel(name)] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return { generator, options };
}

async function main() {
  const { generator, options } = parseArgs(process.argv.slice(2));
  const logs = [];
  const result = await generate(generator, { ...options, onLog: (event) => logs.push(event.message) });
  await shutdown();
  for (const line of logs) process.stderr.write(`${line}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = result.success ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
