'use strict';
// Layer 5 (the new-user waterfall, `layer5-waterfall`) benchmark:
//   npm run bench -- --generator layer5-waterfall --users N [--runs K] [--database-url URL]
//                    [--contenders v2,v1] [--min-hours 12] [--max-days 14] [--seed 1] [--out FILE]
//                    [--timeout SECONDS (per contender run, default 3600)]
// or `node bench/layer5.js …` with the same options.
//
// The same method as bench/run.js (whose measuring helpers it uses):
// 1. Data: without --database-url, the embedded PostgreSQL in this process with N users generated
//    (bench/datagen.sql, which also makes Layer 5's new users); with it, the data there.
// 2. Check: every contender runs once (also the warm-up); V1's files must be V2's, byte for byte,
//    with the same names up to the stamp (`<prefix>-<stamp>.csv`, test files included), and V1's
//    funnel (its result line's counts) must be V2's (metadata.counts).
// 3. Times: K rounds, interleaved (V2 V1 V2 V1 ...), each run a child process; wall time around
//    it, peak RSS from `/usr/bin/time -v` (or VmHWM), client CPU, and the server's CPU when the
//    server runs on this machine.
// 4. Prints medians, V1/V2, V2's phases (metadata.phasesMs: connect, base, levels, targets, write)
//    and the funnel (metadata.counts: base set, then each level's extracted and remaining).
//
// asOf = datagen.AS_OF (T0 + 12 h): the instant the data's new users are made for, so the default
// window [asOf - 14 d, asOf - 12 h] holds ~90% of them plus the other users created in it.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { parseArgs: parseNodeArgs } = require('node:util');
const datagen = require('./datagen.js');
const {
  ROOT, UsageError, log, measure, median, serverCpuMs, findPostmaster, fmtMs, table, snapshotPackage, withClient, dataState,
} = require('./run.js');

const AS_OF = datagen.AS_OF;
const NAMES = { v2: 'V2 (napi addon)', v1: 'V1 (Python)' };
const PHASES = ['connect', 'base', 'levels', 'targets', 'write'];
/** The stamp in a file name: `<prefix>-20261201T105800.csv`, `-2`… on a clash; the manifest `<stamp>.manifest.json`. */
const STAMP = /\d{8}T\d{6}(-\d+)?/;

function parseArgs(argv) {
  const { values } = parseNodeArgs({
    args: argv,
    options: {
      users: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      'database-url': { type: 'string' },
      contenders: { type: 'string', default: 'v2,v1' },
      'min-hours': { type: 'string', default: '12' },
      'max-days': { type: 'string', default: '14' },
      out: { type: 'string' },
      timeout: { type: 'string', default: '3600' },
    },
  });
  const args = {
    users: Number(values.users), runs: Number(values.runs), seed: Number(values.seed), databaseUrl: values['database-url'],
    contenders: values.contenders.split(',').map((s) => s.trim()).filter(Boolean),
    minHours: Number(values['min-hours']), maxDays: Number(values['max-days']), out: values.out, timeoutS: Number(values.timeout),
  };
  if (!Number.isInteger(args.users) || args.users < 20) throw new UsageError('--users must be an integer >= 20');
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new UsageError('--runs must be an integer >= 1');
  if (!(args.minHours >= 0)) throw new UsageError('--min-hours must be >= 0');
  if (!(args.maxDays > 0)) throw new UsageError('--max-days must be > 0');
  if (!(args.timeoutS > 0)) throw new UsageError('--timeout must be > 0 (seconds)');
  for (const c of args.contenders) if (!NAMES[c]) throw new UsageError(`unknown contender ${c} (Layer 5: v2, v1)`);
  if (!args.contenders.includes('v2')) args.contenders.unshift('v2'); // the reference of the check and the ratios
  return args;
}

function contenders(ctx) {
  const common = (outDir) => [
    '--database-url', ctx.url, '--as-of', AS_OF, '--min-hours', String(ctx.minHours), '--max-days', String(ctx.maxDays),
    '--output-dir', outDir,
  ];
  return {
    v2: {
      command: process.execPath,
      args: (o) => [path.join(__dirname, 'contenders', 'v2.js'), '--generator', 'layer5-waterfall', ...common(o)],
      env: { BENCH_V2_DIR: ctx.v2Dir },
    },
    v1: {
      command: 'bash',
      args: (o) => [path.join(__dirname, 'contenders', 'layer5-v1.sh'), ...common(o)],
      env: { V1_PYTHON: ctx.python },
    },
  };
}

/** One run of a contender: measure() plus its result line (both engines print one JSON object last). */
async function runContender(ctx, name) {
  const spec = contenders(ctx)[name];
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-l5-${name}-`));
  const result = await measure(spec.command, spec.args(outDir), { env: spec.env ?? {}, timeoutS: ctx.timeoutS });
  if (result.code !== 0) {
    throw new Error(`${name} failed (exit ${result.code}):\n${result.stderr.split('\n').slice(-15).join('\n')}`);
  }
  const json = JSON.parse(result.stdout.trim().split('\n').pop());
  if (json.success === false) throw new Error(`${name} failed: ${json.error}`);
  return { ...result, outDir, json, phasesMs: json.metadata?.phasesMs ?? null, counts: json.metadata?.counts ?? null };
}

/** The CSV files of a run by name without the stamp (the manifest left out: V1 writes none). */
function readFiles(outDir) {
  const files = {};
  for (const f of fs.readdirSync(outDir).filter((name) => name.endsWith('.csv'))) {
    files[f.replace(STAMP, '<ts>')] = fs.readFileSync(path.join(outDir, f));
  }
  return files;
}

function compareFiles(mine, reference) {
  const problems = [];
  const names = [...new Set([...Object.keys(mine), ...Object.keys(reference)])].sort();
  for (const name of names) {
    if (!mine[name]) problems.push(`${name}: missing (V2 wrote it)`);
    else if (!reference[name]) problems.push(`${name}: V2 wrote no such file`);
    else if (!mine[name].equals(reference[name])) {
      const a = mine[name].toString('utf8');
      const b = reference[name].toString('utf8');
      const at = [...a].findIndex((ch, i) => ch !== b[i]);
      problems.push(`${name}: ${mine[name].length} bytes vs V2's ${reference[name].length}; first difference at character ${at}: ${JSON.stringify(a.slice(Math.max(0, at - 40), at + 40))} vs ${JSON.stringify(b.slice(Math.max(0, at - 40), at + 40))}`);
    }
  }
  return problems;
}

function funnel(counts) {
  const levels = Object.entries(counts.levels ?? {}).map(([n, l]) => `${n} ${l.audienceType} ${l.extracted} (left ${l.remainingAfter})`);
  return `base set ${counts.baseUsers} -> ${levels.join(', ')}`;
}

async function benchmarkOnce(ctx, label) {
  log(`${label}: check run (also the warm-up) of ${ctx.contenders.join(', ')}`);
  const checks = {};
  for (const name of ctx.contenders) {
    checks[name] = await runContender(ctx, name);
    log(`  ${name}: ${fmtMs(checks[name].wallMs)}, peak RSS ${(checks[name].rssKb / 1024).toFixed(0)} MB`);
  }
  const counts = checks.v2.counts;
  const reference = readFiles(checks.v2.outDir);
  const fileSizes = Object.fromEntries(Object.entries(reference).map(([n, b]) => [n, b.length]));
  log(`  V2: ${funnel(counts)}; files ${Object.keys(reference).join(', ')}`);
  const check = {};
  for (const name of ctx.contenders.filter((c) => c !== 'v2')) {
    const problems = compareFiles(readFiles(checks[name].outDir), reference);
    if (JSON.stringify(checks[name].counts) !== JSON.stringify(counts)) {
      problems.push(`counts: ${JSON.stringify(checks[name].counts)} vs V2's ${JSON.stringify(counts)}`);
    }
    check[name] = problems.length === 0 ? 'byte-identical' : problems;
    if (problems.length) log(`  ${name} DISAGREES with V2:\n${problems.join('\n')}`);
    else log(`  ${name}: the same ${Object.keys(reference).length} files as V2, byte for byte, and the same funnel`);
  }
  for (const c of Object.values(checks)) fs.rmSync(c.outDir, { recursive: true, force: true });

  const samples = Object.fromEntries(ctx.contenders.map((c) => [c, []]));
  for (let round = 1; round <= ctx.runs; round++) {
    for (const name of ctx.contenders) {
      const cpuBefore = ctx.postmasterPid ? serverCpuMs(ctx.postmasterPid) : null;
      const r = await runContender(ctx, name);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let the postmaster reap the run's backends
      const cpuAfter = ctx.postmasterPid ? serverCpuMs(ctx.postmasterPid) : null;
      const serverCpuMsOfRun = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
      fs.rmSync(r.outDir, { recursive: true, force: true });
      samples[name].push({ wallMs: r.wallMs, rssKb: r.rssKb, phasesMs: r.phasesMs, serverCpuMs: serverCpuMsOfRun, clientCpuMs: r.cpuMs });
      const cpu = serverCpuMsOfRun !== null ? `, server CPU ${fmtMs(serverCpuMsOfRun)}` : '';
      log(`  round ${round}/${ctx.runs} ${name}: ${fmtMs(r.wallMs)}, ${(r.rssKb / 1024).toFixed(0)} MB${cpu}`);
    }
  }

  const summary = {};
  for (const name of ctx.contenders) {
    const s = samples[name];
    summary[name] = {
      wallMsMedian: median(s.map((x) => x.wallMs)),
      rssMbMedian: median(s.map((x) => x.rssKb)) / 1024,
      wallMs: s.map((x) => Math.round(x.wallMs)),
      rssMb: s.map((x) => Math.round(x.rssKb / 1024)),
      serverCpuMsMedian: s.every((x) => x.serverCpuMs !== null) ? median(s.map((x) => x.serverCpuMs)) : null,
      clientCpuMsMedian: s.every((x) => x.clientCpuMs != null) ? median(s.map((x) => x.clientCpuMs)) : null,
    };
  }
  const phaseNames = [...new Set(samples.v2.flatMap((s) => Object.keys(s.phasesMs ?? {})))];
  phaseNames.sort((a, b) => (PHASES.indexOf(a) + 1 || 99) - (PHASES.indexOf(b) + 1 || 99));
  const v2Phases = Object.fromEntries(phaseNames.map((p) => [p, median(samples.v2.map((s) => s.phasesMs?.[p] ?? 0))]));

  const v2 = summary.v2.wallMsMedian;
  const cpu = (ms) => (ms === null || ms === undefined ? 'n/a' : fmtMs(ms));
  const rows = [['contender', 'wall (median)', 'runs', 'x V2', 'peak RSS (median)', 'server CPU', 'client CPU', 'file check']];
  for (const name of ctx.contenders) {
    const s = summary[name];
    rows.push([
      NAMES[name], fmtMs(s.wallMsMedian), s.wallMs.map(fmtMs).join(' / '), name === 'v2' ? '1.00' : (s.wallMsMedian / v2).toFixed(2),
      `${s.rssMbMedian.toFixed(0)} MB`, cpu(s.serverCpuMsMedian), cpu(s.clientCpuMsMedian),
      name === 'v2' ? 'reference' : check[name] === 'byte-identical' ? check[name] : 'DIFFERENT',
    ]);
  }
  const report = [
    `== ${label}`,
    `funnel (V2's metadata.counts): ${funnel(counts)}`,
    table(rows),
    `V2 phases (median ms): ${Object.entries(v2Phases).map(([p, ms]) => `${p} ${ms.toFixed(1)}`).join(', ')}`,
  ].join('\n');
  const failed = Object.values(check).some((v) => v !== 'byte-identical');
  return { label, counts, fileSizes, check, summary, v2PhasesMs: v2Phases, v2PhasesRuns: samples.v2.map((s) => s.phasesMs), report, failed };
}

async function main(argv) {
  const args = parseArgs(argv);
  const ctx = { ...args };
  let server = null;
  const results = {
    generator: 'layer5-waterfall', date: new Date().toISOString(),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version, users: args.users, seed: args.seed, asOf: AS_OF, minHours: args.minHours, maxDays: args.maxDays, runs: args.runs,
  };
  const cleanup = async () => {
    if (server) await server.stop().catch(() => {});
    server = null;
    if (ctx.v2Dir) fs.rmSync(ctx.v2Dir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` first');
    ({ dir: ctx.v2Dir, build: results.build } = snapshotPackage());
    log(`V2: ${results.build.binary} (${results.build.sha256.slice(0, 12)}, built ${results.build.builtAt}), HEAD ${results.build.head}${results.build.dirty ? ' + uncommitted changes' : ''}`);
    if (args.contenders.includes('v1')) {
      ctx.python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    }
    results.rssMethod = fs.existsSync('/usr/bin/time') ? '/usr/bin/time -v' : '/proc/<pid>/status VmHWM';
    log(`peak RSS: ${results.rssMethod}; load average ${results.loadAverage.join(', ')}`);

    if (args.databaseUrl) {
      ctx.url = args.databaseUrl;
    } else {
      log('starting the embedded PostgreSQL');
      server = await datagen.startBenchServer();
      ctx.url = await require('../scripts/pg-server.js').createDatabase(server.url, `bench_${args.users}_s${args.seed}`);
      results.server = `embedded PostgreSQL (${datagen.SERVER_FLAGS.filter((f) => f !== '-c').join(' ')})`;
    }
    let state = await dataState(ctx.url);
    if (state.users === 0) {
      log(`generating ${args.users} users (seed ${args.seed})`);
      await datagen.prepareDatabase(ctx.url, { reset: true });
      results.datagen = await datagen.generate(ctx.url, { users: args.users, seed: args.seed });
      delete results.datagen.steps;
      state = await dataState(ctx.url);
    } else if (state.users !== args.users + Math.max(20, Math.floor(args.users / 100))) {
      // datagen.sql makes N users plus max(20, N/100) new ones.
      log(`note: the database has ${state.users} users in all (--users ${args.users} ignored)`);
      results.users = state.users;
    }
    results.usersInAll = state.users;
    results.serverVersion = state.serverVersion;
    results.desiredItems = await withClient(ctx.url, async (c) => Number((await c.query('SELECT count(*)::int8 AS n FROM desired_items')).rows[0].n));
    ctx.postmasterPid = await findPostmaster(ctx.url);
    log(ctx.postmasterPid ? `server CPU: /proc of the postmaster (pid ${ctx.postmasterPid}) and its children` : 'server CPU: n/a (the server is not on this machine)');
    log(`asOf ${AS_OF}, window [asOf - ${args.maxDays} d, asOf - ${args.minHours} h]`);

    const b = await benchmarkOnce(ctx, `Layer 5, ${results.users} users (${results.usersInAll} in all), window [asOf - ${args.maxDays} d, asOf - ${args.minHours} h]`);
    results.benchmarks = [b];
    process.stdout.write(`\n${b.report}\n`);
    if (results.datagen) {
      process.stdout.write(`\ndata: ${results.users} users generated in ${fmtMs(results.datagen.generatedMs)} + VACUUM ANALYZE ${fmtMs(results.datagen.vacuumMs)}, database ${results.datagen.databaseSize}\n`);
    }
    if (args.out) {
      fs.mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
      fs.writeFileSync(args.out, `${JSON.stringify(results, (k, v) => (k === 'report' ? undefined : v), 2)}\n`);
      log(`raw results: ${args.out}`);
    }
    if (b.failed) {
      process.exitCode = 2;
      log("V1's files differ from V2's: see above");
    }
  } finally {
    await cleanup();
  }
}

module.exports = { main };

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    const usage = error.code?.startsWith('ERR_PARSE_ARGS') || error instanceof UsageError;
    console.error(`[bench] error: ${usage ? error.message : (error.stack ?? error.message)}`);
    process.exit(usage ? 2 : 1);
  });
}
