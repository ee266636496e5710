'use strict';
// `npm run bench:data -- --users N [--database-url URL] [--seed S] [--reset] [--exit]`
//
// Builds the synthetic marketplace of bench/datagen.sql (generated inside PostgreSQL,
// deterministic for N and the seed), then VACUUM ANALYZE.
//
// With --database-url: loads schema/marketplace.sql there when the tables are missing;
// when they exist it refuses unless --reset (which drops and re-creates them).
// Without it: starts the embedded PostgreSQL (scripts/pg-server.js), creates the database
// `bench_<N>_s<seed>`, generates, prints the URL on stdout and keeps the server running
// until Ctrl-C (the embedded server dies with this process); --exit stops it right away.
//
// Also used as a module by bench/run.js: startBenchServer(), prepareDatabase(), generate().
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs: parseNodeArgs } = require('node:util');
const { startPostgres, createDatabase } = require('../scripts/pg-server.js');

const ROOT = path.join(__dirname, '..');
const TABLES = [
  'desired_items', 'offer_items', 'offers', 'wishlist_items', 'inventory_items', 'product_variants', 'products',
  'attribute_preferences', 'user_preferences', 'attribute_values', 'attributes', 'user_activities', 'users',
];

/** The activity's end; bench/run.js uses asOf = T0 + 12 h (see datagen.sql). */
const T0 = '2026-11-01T00:00:00Z';
/**
 * The asOf the data is made for (bench/run.js's): Layer 5's new users are created over the 15 days
 * before it, with accounts on both ends of its default window [AS_OF - 14 d, AS_OF - 12 h].
 * datagen.sql's `as_of` is the same instant.
 */
const AS_OF = '2026-11-01T12:00:00Z';

// Server settings for the throwaway benchmark server. fsync/full_page_writes/wal_level only
// speed up loading (nothing is measured while writing); shared_buffers is a modest production-like
// value instead of the 128MB default. work_mem etc. stay at PostgreSQL's defaults.
const SERVER_FLAGS = [
  '-c', 'shared_buffers=512MB',
  '-c', 'fsync=off',
  '-c', 'synchronous_commit=off',
  '-c', 'full_page_writes=off',
  '-c', 'wal_level=minimal',
  '-c', 'max_wal_senders=0',
  '-c', 'max_wal_size=8GB',
  '-c', 'checkpoint_timeout=30min',
];

function log(message) {
  process.stderr.write(`[bench:data] ${message}\n`);
}

async function startBenchServer() {
  return startPostgres({ flags: SERVER_FLAGS });
}

/** Splits a SQL script into statements: `;` at a line end, outside `$$` bodies; drops psql `\` lines. */
function splitSql(sql) {
  const statements = [];
  let current = [];
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (!inDollar && /^\s*\\/.test(line)) continue;
    current.push(line);
    const dollars = (line.match(/\$\$/g) || []).length;
    if (dollars % 2 === 1) inDollar = !inDollar;
    if (!inDollar && /;\s*(--.*)?$/.test(line)) {
      const text = current.join('\n').trim();
      if (text.replace(/--.*$/gm, '').trim()) statements.push(text);
      current = [];
    }
  }
  const rest = current.join('\n').replace(/--.*$/gm, '').trim();
  if (rest) statements.push(current.join('\n'));
  return statements;
}

/** datagen.sql with the psql variables :users and :seed substituted. */
function datagenSql(users, seed) {
  const sql = fs.readFileSync(path.join(__dirname, 'datagen.sql'), 'utf8');
  return sql.replace(/(?<!:):(users|seed)\b/g, (_, name) => String(name === 'users' ? users : seed));
}

/**
 * Makes sure the schema exists at `url` (loading schema/marketplace.sql when the tables are
 * missing). When they exist: `reset` drops and re-creates them, otherwise it throws.
 */
async function prepareDatabase(url, { reset = false } = {}) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1)`,
      [TABLES],
    );
    if (rows[0].n > 0) {
      if (!reset) {
        throw new Error(`the database already has ${rows[0].n} of the marketplace tables; pass --reset to drop and re-create them`);
      }
      await client.query(`DROP TABLE IF EXISTS ${TABLES.join(', ')} CASCADE`);
    }
    await client.query(fs.readFileSync(path.join(ROOT, 'schema', 'marketplace.sql'), 'utf8'));
  } finally {
    await client.end();
  }
}

/**
 * Generates the data (one transaction), then VACUUM ANALYZE. Returns timings and row counts.
 * @param {string} url
 * @param {{ users: number, seed?: number, quiet?: boolean }} options
 */
async function generate(url, { users, seed = 1, quiet = false }) {
  const { Client } = require('pg');
  const say = quiet ? () => {} : log;
  const client = new Client({ connectionString: url });
  await client.connect();
  const started = Date.now();
  const steps = [];
  try {
    await client.query('BEGIN');
    for (const statement of splitSql(datagenSql(users, seed))) {
      const t = Date.now();
      await client.query(statement);
      const ms = Date.now() - t;
      const label = statement.replace(/--.*$/gm, '').replace(/\s+/g, ' ').trim().slice(0, 60);
      steps.push({ label, ms });
      if (ms > 1000) say(`${(ms / 1000).toFixed(1)} s  ${label}`);
    }
    await client.query('COMMIT');
    const generatedMs = Date.now() - started;
    say(`generated in ${(generatedMs / 1000).toFixed(1)} s; VACUUM ANALYZE`);
    const v = Date.now();
    await client.query('VACUUM (ANALYZE)');
    const vacuumMs = Date.now() - v;
    const { rows } = await client.query(
      TABLES.map((t) => `SELECT '${t}' AS tbl, count(*)::int8 AS n FROM ${t}`).join(' UNION ALL '),
    );
    const { rows: size } = await client.query('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
    const counts = Object.fromEntries(rows.map((r) => [r.tbl, Number(r.n)]));
    const totalMs = Date.now() - started;
    say(`done in ${(totalMs / 1000).toFixed(1)} s (generate ${(generatedMs / 1000).toFixed(1)} s, vacuum analyze ${(vacuumMs / 1000).toFixed(1)} s), database ${size[0].size}`);
    return { users, seed, generatedMs, vacuumMs, totalMs, counts, databaseSize: size[0].size, steps };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

function parseArgs(argv) {
  const { values } = parseNodeArgs({
    args: argv,
    options: {
      users: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '1' },
      'database-url': { type: 'string' },
      reset: { type: 'boolean', default: false },
      exit: { type: 'boolean', default: false },
    },
  });
  const args = { users: Number(values.users), seed: Number(values.seed), databaseUrl: values['database-url'], reset: values.reset, exit: values.exit };
  if (!Number.isInteger(args.users) || args.users < 20) throw new Error(`--users must be an integer >= 20, got ${values.users}`);
  if (!Number.isInteger(args.seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.databaseUrl) {
    await prepareDatabase(args.databaseUrl, { reset: args.reset });
    await generate(args.databaseUrl, args);
    console.log(args.databaseUrl);
    return;
  }
  log('starting the embedded PostgreSQL');
  const pg = await startBenchServer();
  const stop = () => pg.stop().then(() => process.exit(0), () => process.exit(1));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const url = await createDatabase(pg.url, `bench_${args.users}_s${args.seed}`);
    await prepareDatabase(url);
    await generate(url, args);
    console.log(url);
    if (args.exit) return stop();
    log('the server runs until Ctrl-C (it stops with this process)');
  } catch (error) {
    await pg.stop().catch(() => {});
    throw error;
  }
}

module.exports = { T0, AS_OF, SERVER_FLAGS, startBenchServer, prepareDatabase, generate, splitSql, datagenSql };

if (require.main === module) {
  main().catch((error) => {
    console.error(`[bench:data] error: ${error.message}`);
    process.exit(1);
  });
}
