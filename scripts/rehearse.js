#!/usr/bin/env node
'use strict';
// `npm run rehearse`: docs/rollout.md, step by step, against a throwaway PostgreSQL.
//
// Packs the package (as `npm run test:package` does), installs the tarballs into a scratch
// "host" directory, loads a synthetic marketplace, and runs the runbook's `sh` blocks, read
// from docs/rollout.md by their `<!-- rehearse: NAME -->` markers, in the runbook's order, with
// the host's environment (DATABASE_URL, AUTOMATION_ENGINE_VERSION, AUDIENCE_ENGINE_PYTHON).
// Prints each block's output and each check's outcome, then `N passed, N failed`.
//
// Substitutions: step 1 installs the packed tarballs instead of `audience-engine@<version>`
// from the registry; step 2's values are the rehearsal's own. The synthetic marketplace's
// timestamps are moved so that its activity ends 12 hours before now, because the runbook's
// runs use the database's now(), as production does.
//
// Needs: `npm run build` (the release binary and dist/), python3 with venv, and PyPI for
// step 1's `pip install` (or a pip cache). KEEP_REHEARSAL=1 keeps the scratch directory.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createChecks } = require('./checks.js');

const { ROOT, PLATFORM_DIR, cleanEnv, pathWithoutRust, stageAndPack, installTarballs } = require('./test-package.js');

const RUNBOOK = path.join(ROOT, 'docs', 'rollout.md');
const SCRIPT_ID = 'generate_layer_3_push_csvs';
const V1_LINE = `[AutomationEngine] Using V1 Python script executor for ${SCRIPT_ID}`;
const V2_LINE = `[AutomationEngine] Using V2 native generator for ${SCRIPT_ID}`;

const { check, summary } = createChecks({ detailLines: 30 });

function step(title) {
  console.log(`\n== ${title}`);
}

/** The runbook's `sh` blocks by marker name, in the runbook's order. */
function runbookBlocks() {
  const text = fs.readFileSync(RUNBOOK, 'utf8');
  const blocks = new Map();
  const marker = /<!-- rehearse: ([a-z0-9-]+) -->\s*\n```sh\n([\s\S]*?)\n```/g;
  for (let m = marker.exec(text); m; m = marker.exec(text)) blocks.set(m[1], m[2]);
  return blocks;
}

/** Runs one runbook block with bash (-e, pipefail) in the host directory; prints its output. */
function runBlock(blocks, name, host, env) {
  const code = blocks.get(name);
  if (code === undefined) {
    check(`docs/rollout.md has the block \`${name}\``, false);
    return { ok: false, status: null, output: '' };
  }
  console.log(`  $ [${name}] ${code.split('\n')[0]}${code.includes('\n') ? ' …' : ''}`);
  const result = spawnSync('bash', ['-eo', 'pipefail', '-c', code], { cwd: host, env, encoding: 'utf8', timeout: 300_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`;
  const lines = output.trimEnd().split('\n').filter(Boolean);
  const shown = lines.length > 14 ? [...lines.slice(0, 5), `… (${lines.length - 10} more lines)`, ...lines.slice(-5)] : lines;
  for (const line of shown) console.log(`    | ${line.length > 160 ? `${line.slice(0, 157)}...` : line}`);
  return { ok: result.status === 0, status: result.status, output };
}

/** The `[rollout-check] {...}` result lines of the trigger, parsed. */
function triggerResults(host) {
  const log = path.join(host, 'rollout-check.log');
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('[rollout-check] {'))
    .map((line) => JSON.parse(line.slice('[rollout-check] '.length)));
}

/** Checks the `files` block's output: six files of mode 600, and a manifest or not. */
function checkFiles(files, engine) {
  const lines = files.output.split('\n').filter(Boolean);
  const csv = lines.filter((line) => /^\d{3}\s+\d+\s+recent-/.test(line));
  check(`the files block lists 6 CSV files of the newest run, all mode 600 (${engine})`, files.ok && csv.length === 6 && csv.every((l) => l.startsWith('600 ')), files.output);
  const stamp = /_(\d{8}T\d{6}(-\d+)?)\.csv$/.exec(csv[0] ?? '')?.[1];
  if (engine === 'V1') check('... and no manifest: a V1 run', lines.includes('no manifest (a V1 run)'), files.output);
  else check('... and the V2 manifest <ts>.manifest.json', lines.includes(`manifest ${stamp}.manifest.json`), files.output);
  return stamp;
}

async function main() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const binary = path.resolve(process.env.AUDIENCE_ENGINE_BINARY ?? path.join(ROOT, `${pkg.napi.binaryName}.${PLATFORM_DIR}.node`));
  const blocks = runbookBlocks();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-rehearsal-'));
  fs.chmodSync(work, 0o755);
  const host = path.join(work, 'push-blaster');
  let server;
  try {
    step('0. Set-up: pack the package, start PostgreSQL with a synthetic marketplace');
    check(`docs/rollout.md has its rehearsal blocks (${[...blocks.keys()].join(', ')})`, blocks.size >= 9);
    if (!check('the release binary and dist/ are built (npm run build)', fs.existsSync(binary) && fs.existsSync(path.join(ROOT, 'dist', 'automation.js')))) return;
    const packed = stageAndPack(work, binary);
    if (!check('the main and platform packages are packed', packed.mainTgz && packed.platformTgz, `${packed.prepublish.output}\n${packed.packMain.output}\n${packed.packPlatform.output}`)) return;

    const { startPostgres, createDatabase } = require('./pg-server.js');
    const { prepareDatabase, generate: generateData, T0 } = require('../bench/datagen.js');
    server = await startPostgres();
    const url = await createDatabase(server.url, 'marketplace');
    await prepareDatabase(url);
    await generateData(url, { users: 2000, quiet: true });
    const { Client } = require('pg');
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      // The activity ends at T0; move everything so that T0 is 12 hours before now.
      const shift = "now() - ($1::timestamptz + interval '12 hours')";
      for (const [table, column] of [['users', 'created_at'], ['user_activities', 'last_active'], ['offers', 'created_at'], ['inventory_items', 'created_at'], ['wishlist_items', 'created_at']]) {
        await client.query(`UPDATE ${table} SET ${column} = ${column} + (${shift})`, [T0]);
      }
    } finally {
      await client.end();
    }
    check('PostgreSQL runs with 2000 synthetic users, activity ending 12 h ago', true);

    const env = cleanEnv({
      PATH: [path.join(host, 'node_modules', '.bin'), pathWithoutRust()].join(path.delimiter),
      npm_config_cache: path.join(work, 'npm-cache'),
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      AUDIENCE_VENV: path.join(work, 'venv'),
    });
    delete env.DATABASE_URL;
    delete env.AUTOMATION_ENGINE_VERSION;
    delete env.AUDIENCE_ENGINE_PYTHON;

    step('1. Install (no cargo or rustc on PATH)');
    console.log(`  (rehearsal: the packed tarballs stand for \`npm install --save-exact audience-engine@${pkg.version}\`)`);
    const install = installTarballs(host, 'push-blaster', [packed.mainTgz, packed.platformTgz], env);
    check('npm install succeeds offline, without a Rust toolchain', install.ok, install.output);
    const installCheck = runBlock(blocks, 'install-check', host, env);
    check(
      'npm ls shows both packages; `npx audience-engine list` prints layer3-behavior and its legacy id',
      installCheck.ok &&
        installCheck.output.includes(`audience-engine-linux-x64-gnu@${pkg.version}`) &&
        /layer3-behavior\s+3\s+generate_layer_3_push_csvs/.test(installCheck.output),
      installCheck.output,
    );
    const pythonEnv = runBlock(blocks, 'python-env', host, env);
    check('the V1 python environment is created and imports psycopg', pythonEnv.ok && /psycopg 3\./.test(pythonEnv.output), pythonEnv.output);

    step('2. The environment');
    env.DATABASE_URL = url;
    env.AUTOMATION_ENGINE_VERSION = 'v1';
    env.AUDIENCE_ENGINE_PYTHON = path.join(work, 'venv', 'bin', 'python');
    console.log(`  DATABASE_URL=${url.replace(/:[^:@/]*@/, ':***@')}`);
    console.log('  AUTOMATION_ENGINE_VERSION=v1');
    console.log(`  AUDIENCE_ENGINE_PYTHON=${env.AUDIENCE_ENGINE_PYTHON}`);
    check('the V1 python exists', fs.existsSync(env.AUDIENCE_ENGINE_PYTHON));

    step('3. Deploy with v1');
    check('the V1 script is inside the installed package', fs.existsSync(path.join(host, 'node_modules', 'audience-engine', 'legacy', `${SCRIPT_ID}.py`)));

    step('4. Trigger a test automation, check V1');
    const trigger1 = runBlock(blocks, 'trigger', host, env);
    check('the trigger succeeds', trigger1.ok, trigger1.output);
    const checkV1 = runBlock(blocks, 'check-v1', host, env);
    check(`the log has "${V1_LINE}" and a successful result`, checkV1.ok && checkV1.output.includes(V1_LINE), checkV1.output);
    const v1Stamp = checkFiles(runBlock(blocks, 'files', host, env), 'V1');
    const v1Result = triggerResults(host).at(-1);
    const baseline = v1Result?.audienceSize ?? 0;
    check(`V1 audience size noted as the baseline: ${baseline}`, v1Result?.success === true && baseline > 0, JSON.stringify(v1Result));

    step('5. Switch to v2');
    env.AUTOMATION_ENGINE_VERSION = 'v2';
    console.log('  AUTOMATION_ENGINE_VERSION=v2');

    step('6. Trigger again, check V2');
    const trigger2 = runBlock(blocks, 'trigger', host, env);
    check('the trigger succeeds', trigger2.ok, trigger2.output);
    const checkV2 = runBlock(blocks, 'check-v2', host, env);
    check(
      `the log has "${V2_LINE}", the write phase line and a successful result`,
      checkV2.ok && checkV2.output.includes(V2_LINE) && /\[layer3-behavior\] write: done in .* 6 files/.test(checkV2.output),
      checkV2.output,
    );
    const v2Stamp = checkFiles(runBlock(blocks, 'files', host, env), 'V2');
    check('V2 wrote a new set of files', v2Stamp !== undefined && v2Stamp !== v1Stamp, `${v1Stamp} then ${v2Stamp}`);

    step('7. Compare V1 and V2');
    // 7b: each engine at its default rules (V1 production's, V2 the contract), every difference explained.
    const explain = runBlock(blocks, 'compare-explain', host, env);
    check(
      'compare (each engine at its default: V1 rules v1, V2 rules v2) exits 0 with V1 = V2 under rules v1 and unexplained: 0',
      explain.ok &&
        explain.output.includes("compare: V1 (rules v1, the production script's) against V2 (rules v2, the contract)") &&
        explain.output.includes('V1 = V2 under rules v1, byte for byte: yes') &&
        /^unexplained: 0$/m.test(explain.output) &&
        explain.output.includes('RESULT: EXPLAINED'),
      explain.output,
    );
    // 7c: both engines under the same rules (--rules v2): the same files.
    const compare = runBlock(blocks, 'compare', host, env);
    check('compare --rules v2 exits 0 with RESULT: SAME', compare.ok && compare.output.includes('both under rules v2') && compare.output.includes('RESULT: SAME'), compare.output);

    step('8. Watch');
    const watch = runBlock(blocks, 'watch', host, { ...env, V1_BASELINE: String(baseline) });
    check('watch: OK against the V1 baseline, no failure line', watch.ok && /^OK: audience \d+/m.test(watch.output) && /^0$/m.test(watch.output), watch.output);
    console.log('  (the alarm, rehearsed: a baseline 10 times the real size must raise it)');
    const alarm = runBlock(blocks, 'watch', host, { ...env, V1_BASELINE: String(baseline * 10) });
    check('watch: ALARM and exit 1 when the audience is outside half to double the baseline', !alarm.ok && /^ALARM: audience \d+ is outside/m.test(alarm.output), alarm.output);

    step('9. Roll back');
    env.AUTOMATION_ENGINE_VERSION = 'v1';
    console.log('  AUTOMATION_ENGINE_VERSION=v1');
    const trigger3 = runBlock(blocks, 'trigger', host, env);
    check('the trigger succeeds', trigger3.ok, trigger3.output);
    const rollback = runBlock(blocks, 'check-rollback', host, env);
    check(`the newest engine line is "${V1_LINE}"`, rollback.ok && rollback.output.trim().split('\n').at(-1) === V1_LINE, rollback.output);
    const rollbackStamp = checkFiles(runBlock(blocks, 'files', host, env), 'V1');
    check('V1 wrote a new set of files', rollbackStamp !== undefined && rollbackStamp !== v2Stamp, `${v2Stamp} then ${rollbackStamp}`);
    const results = triggerResults(host);
    check('three successful runs in the log (V1, V2, V1)', results.length === 3 && results.every((r) => r.success), JSON.stringify(results.map((r) => r.audienceSize)));
  } finally {
    if (server) await server.stop().catch((error) => console.error(`could not stop PostgreSQL: ${error.message}`));
    if (process.env.KEEP_REHEARSAL) console.log(`\nkept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main()
  .catch((error) => check('the rehearsal ran to the end', false, error?.stack ?? String(error)))
  .finally(() => {
    summary();
  });
