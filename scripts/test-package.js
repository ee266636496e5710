#!/usr/bin/env node
'use strict';
// `npm run test:package`: the package as a dependency, on a machine with Node and no Rust.
//
// 1. Stages the main package and the linux-x64-gnu platform package the way a release does:
//    `napi artifacts` copies the release binary into npm/linux-x64-gnu, `napi prepublish
//    --skip-optional-publish` writes the main package's optionalDependencies; then `npm pack`
//    packs both. Only this platform is built here, so napi is given a config naming only it;
//    the committed package.json keeps every target (see docs/packaging.md).
// 2. Creates a fresh project in a temp dir and `npm install`s the two tarballs offline, with
//    an empty npm cache and a PATH without cargo or rustc.
// 3. Imports both entry points from an ES module; compiles __test__/package-consumer (strict,
//    node16 and bundler resolution, our .d.ts checked).
// 4. Runs it against a throwaway PostgreSQL loaded with a synthetic marketplace: a dry run, a
//    real run, and V1 then V2 through `audience-engine/automation`.
// 5. Checks that nothing installed has an install script and that the binary loaded without
//    NAPI_RS_NATIVE_LIBRARY_PATH.
//
// Needs: the release binary (`npm run build`; or AUDIENCE_ENGINE_BINARY=path), dist/ built,
// and .venv (`bash scripts/setup-python.sh`) or AUDIENCE_ENGINE_PYTHON for V1. Starts a throwaway
// PostgreSQL, or creates a database on the server of TEST_DATABASE_URL when that is set.
// KEEP_PACKAGE_TEST=1 keeps the temp dir. Ends with `N passed, N failed`; exits 1 on any failure.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createChecks } = require('./checks.js');

const ROOT = path.resolve(__dirname, '..');
const PLATFORM_DIR = 'linux-x64-gnu';
const PLATFORM_TRIPLE = 'x86_64-unknown-linux-gnu';

const { check, summary } = createChecks({ detailLines: 10000 });

function section(title) {
  console.log(`\n-- ${title}`);
}

/** The environment of a child npm/node: ours less npm's own variables (a nested npm must not inherit the repo as its prefix). */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'INIT_CWD' || key === 'NAPI_RS_NATIVE_LIBRARY_PATH' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? cleanEnv(),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`;
  return { ok: result.status === 0, status: result.status, stdout: result.stdout ?? '', output };
}

/** PATH without the directories that hold cargo or rustc: a host with Node and no Rust toolchain. */
function pathWithoutRust() {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !['cargo', 'rustc', 'rustup'].some((tool) => fs.existsSync(path.join(dir, tool))))
    .join(path.delimiter);
}

/** Section names of an ELF file: to see whether the binary is stripped. */
function elfSectionNames(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const header = (i) => shoff + i * shentsize;
  const strtab = Number(buf.readBigUInt64LE(header(shstrndx) + 0x18));
  const names = [];
  for (let i = 0; i < shnum; i += 1) {
    const nameOffset = strtab + buf.readUInt32LE(header(i));
    names.push(buf.toString('latin1', nameOffset, buf.indexOf(0, nameOffset)));
  }
  return names;
}

function copy(from, to) {
  fs.cpSync(from, to, { recursive: true, dereference: true });
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function listTarball(tgz) {
  const result = run('tar', ['-tzf', tgz]);
  return result.stdout.split('\n').filter(Boolean).map((entry) => entry.replace(/^package\//, ''));
}

/** Every installed package's manifest under node_modules (scoped ones included; links not followed). */
function installedManifests(nodeModules) {
  const manifests = [];
  const visit = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (entry.name.startsWith('@')) {
        visit(full);
      } else if (entry.isDirectory() && fs.existsSync(path.join(full, 'package.json'))) {
        manifests.push({ dir: full, pkg: readJson(path.join(full, 'package.json')) });
        visit(path.join(full, 'node_modules'));
      }
    }
  };
  visit(nodeModules);
  return manifests;
}

/**
 * Stages the main package and the linux-x64-gnu package in `<work>/stage` as a release does,
 * and packs both into `<work>/tarballs`: `napi artifacts` copies the binary into
 * npm/linux-x64-gnu, `napi prepublish --skip-optional-publish` writes optionalDependencies.
 * napi validates that every configured target has its binary, so it is given a config naming
 * the one target built here. Returns each step's result; the tarball paths when packing worked.
 */
function stageAndPack(work, binary) {
  const pkg = readJson(path.join(ROOT, 'package.json'));
  const binaryName = pkg.napi.binaryName;
  const binaryFile = `${binaryName}.${PLATFORM_DIR}.node`;
  const napi = path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
  const stage = path.join(work, 'stage');
  fs.mkdirSync(stage);
  for (const entry of [...pkg.files, 'package.json', 'README.md', 'LICENSE']) {
    if (fs.existsSync(path.join(ROOT, entry))) copy(path.join(ROOT, entry), path.join(stage, entry));
  }
  copy(path.join(ROOT, 'npm', PLATFORM_DIR), path.join(stage, 'npm', PLATFORM_DIR));
  const artifacts = path.join(work, 'artifacts');
  fs.mkdirSync(artifacts);
  fs.copyFileSync(binary, path.join(artifacts, binaryFile));
  const napiConfig = path.join(work, 'napi-config.json');
  fs.writeFileSync(napiConfig, JSON.stringify({ binaryName, targets: [PLATFORM_TRIPLE] }));
  const artifactsRun = run('node', [napi, 'artifacts', '-c', napiConfig, '-o', artifacts], { cwd: stage });
  fs.rmSync(path.join(stage, binaryFile), { force: true }); // artifacts also drops a copy at the root; the main package never ships it
  const prepublish = run('node', [napi, 'prepublish', '-t', 'npm', '--skip-optional-publish', '--no-gh-release', '-c', napiConfig], { cwd: stage });
  const tarballs = path.join(work, 'tarballs');
  fs.mkdirSync(tarballs);
  const packMain = run('npm', ['pack', '--json', '--pack-destination', tarballs], { cwd: stage });
  const packPlatform = run('npm', ['pack', '--json', '--pack-destination', tarballs], { cwd: path.join(stage, 'npm', PLATFORM_DIR) });
  const tarball = (packed) => (packed.ok ? path.join(tarballs, JSON.parse(packed.stdout)[0].filename) : null);
  return { stage, artifactsRun, prepublish, packMain, packPlatform, mainTgz: tarball(packMain), platformTgz: tarball(packPlatform) };
}

/** A new project `name` in `dir` with the tarballs installed: offline, nothing from a registry. */
function installTarballs(dir, name, tarballs, env) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true }, null, 2)}\n`);
  return run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: dir, env });
}

async function dropDatabase(adminUrl, name) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function main() {
  const pkg = readJson(path.join(ROOT, 'package.json'));
  const binaryName = pkg.napi.binaryName;
  const platformPkg = readJson(path.join(ROOT, 'npm', PLATFORM_DIR, 'package.json'));
  const binaryFile = `${binaryName}.${PLATFORM_DIR}.node`;
  const binary = path.resolve(process.env.AUDIENCE_ENGINE_BINARY ?? path.join(ROOT, binaryFile));
  const python = process.env.AUDIENCE_ENGINE_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-package-'));
  fs.chmodSync(work, 0o755);
  let server;
  try {
    section('the release binary');
    if (!check(`${path.relative(ROOT, binary)} exists (npm run build)`, fs.existsSync(binary))) return;
    const sections = elfSectionNames(binary);
    const size = fs.statSync(binary).size;
    check(
      `it is stripped: no symbol table, no debug info (${size} bytes, ${(size / 1024 / 1024).toFixed(2)} MiB)`,
      !sections.includes('.symtab') && !sections.some((s) => s.startsWith('.debug')),
      `sections: ${sections.filter((s) => s === '.symtab' || s.startsWith('.debug')).join(' ')} (a debug build? run npm run build)`,
    );
    check('dist/ is built (npm run build)', fs.existsSync(path.join(ROOT, 'dist', 'index.d.ts')) && fs.existsSync(path.join(ROOT, 'dist', 'automation.d.ts')));

    section('stage and pack (napi artifacts, napi prepublish, npm pack)');
    const { stage, artifactsRun, prepublish, packMain, packPlatform, mainTgz, platformTgz } = stageAndPack(work, binary);
    check('napi artifacts copies the binary into npm/linux-x64-gnu', artifactsRun.ok && fs.existsSync(path.join(stage, 'npm', PLATFORM_DIR, binaryFile)), artifactsRun.output);
    const staged = readJson(path.join(stage, 'package.json'));
    check(
      `napi prepublish wires optionalDependencies: ${platformPkg.name}@${pkg.version}`,
      prepublish.ok && staged.optionalDependencies?.[platformPkg.name] === pkg.version,
      prepublish.output || JSON.stringify(staged.optionalDependencies),
    );
    const loader = fs.readFileSync(path.join(stage, 'index.js'), 'utf8');
    check(`the generated loader requires '${platformPkg.name}'`, loader.includes(`require('${platformPkg.name}')`));
    check(
      'the platform package declares os, cpu and libc (so other platforms skip it)',
      JSON.stringify([platformPkg.os, platformPkg.cpu, platformPkg.libc]) === JSON.stringify([['linux'], ['x64'], ['glibc']]),
    );
    check('the platform package has the main package version', platformPkg.version === pkg.version, `${platformPkg.version} vs ${pkg.version}`);
    if (!check('npm pack packs both packages', packMain.ok && packPlatform.ok, `${packMain.output}\n${packPlatform.output}`)) return;
    const mainFiles = listTarball(mainTgz);
    const platformFiles = listTarball(platformTgz);
    const mustShip = [
      'package.json', 'index.js', 'index.d.ts', 'dist/index.js', 'dist/index.d.ts', 'dist/automation.js', 'dist/automation.d.ts',
      'dist/types.d.ts', 'dist/cli.js', 'bin/audience-engine.js', 'legacy/generate_layer_3_push_csvs.py', 'legacy/requirements.txt',
      'schema/marketplace.sql', 'schema/recommended-indexes.sql', 'CHANGELOG.md',
    ];
    const missing = mustShip.filter((file) => !mainFiles.includes(file));
    check('the main package ships the loader, types, TS API, CLI, V1 script and schema', missing.length === 0, `missing: ${missing.join(', ')}`);
    check('the main package ships no .node binary', !mainFiles.some((f) => f.endsWith('.node')), mainFiles.filter((f) => f.endsWith('.node')).join(', '));
    check(
      `the platform package ships ${binaryFile} and its manifest only`,
      platformFiles.filter((f) => f.endsWith('.node')).join() === binaryFile && platformFiles.includes('package.json'),
      platformFiles.join(', '),
    );
    const mainSize = fs.statSync(mainTgz).size;
    const platformSize = fs.statSync(platformTgz).size;
    console.log(`     ${path.basename(mainTgz)}: ${mainFiles.length} files, ${(mainSize / 1024).toFixed(0)} KiB packed`);
    console.log(`     ${path.basename(platformTgz)}: ${(platformSize / 1024).toFixed(0)} KiB packed`);

    section('install into a fresh project: offline, no cargo or rustc on PATH');
    const noRustPath = pathWithoutRust();
    for (const tool of ['cargo', 'rustc']) {
      const found = run('sh', ['-c', `command -v ${tool}`], { env: cleanEnv({ PATH: noRustPath }) });
      check(`\`command -v ${tool}\` fails on the consumer's PATH`, !found.ok, found.stdout);
    }
    const consumer = path.join(work, 'consumer');
    const consumerEnv = cleanEnv({ PATH: noRustPath, npm_config_cache: path.join(work, 'npm-cache'), npm_config_update_notifier: 'false' });
    const install = installTarballs(consumer, 'package-consumer', [mainTgz, platformTgz], consumerEnv);
    if (!check('npm install of the two tarballs succeeds', install.ok, install.output)) return;
    const ls = run('npm', ['ls', '--all', '--json'], { cwd: consumer, env: consumerEnv });
    const tree = JSON.parse(ls.stdout || '{}');
    check(
      `npm ls: ${pkg.name}'s optional dependency on ${platformPkg.name} resolves to the installed package`,
      ls.ok && !tree.problems && tree.dependencies?.[pkg.name]?.dependencies?.[platformPkg.name]?.version === pkg.version,
      ls.output.slice(0, 2000),
    );
    const nodeModules = path.join(consumer, 'node_modules');
    const manifests = installedManifests(nodeModules);
    const installScripts = manifests.flatMap(({ dir, pkg: m }) => [
      ...['preinstall', 'install', 'postinstall'].filter((s) => m.scripts?.[s]).map((s) => `${m.name}: ${s}`),
      ...(fs.existsSync(path.join(dir, 'binding.gyp')) ? [`${m.name}: binding.gyp (npm would run node-gyp)`] : []),
    ]);
    check(
      `no installed package has an install script or binding.gyp (${manifests.map((m) => m.pkg.name).join(', ')})`,
      manifests.length >= 2 && installScripts.length === 0,
      installScripts.join('\n'),
    );

    const esm = run(
      'node',
      [
        '--input-type=module',
        '-e',
        "import { generate, generateLayer3, listGenerators, shutdown } from 'audience-engine';\n" +
          "import { executeAudienceGeneration } from 'audience-engine/automation';\n" +
          "if (![generate, generateLayer3, listGenerators, shutdown, executeAudienceGeneration].every((f) => typeof f === 'function')) throw new Error('missing export');\n" +
          "console.log((await listGenerators()).map((g) => g.name).join());",
      ],
      { cwd: consumer, env: consumerEnv },
    );
    check('an ES module host imports the named exports of both entry points', esm.ok && esm.stdout.trim() === 'layer3-behavior', esm.output);

    section('compile the strict TypeScript consumer (node16 resolution, our .d.ts checked)');
    copy(path.join(ROOT, '__test__', 'package-consumer', 'tsconfig.json'), path.join(consumer, 'tsconfig.json'));
    copy(path.join(ROOT, '__test__', 'package-consumer', 'src'), path.join(consumer, 'src'));
    // The consumer's own dev tools, not the package's: @types/node linked from this repo.
    fs.mkdirSync(path.join(nodeModules, '@types'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(nodeModules, '@types', 'node'), 'dir');
    const typecheck = run('node', [tsc, '-p', 'tsconfig.json', '--strict', '--noEmit'], { cwd: consumer, env: consumerEnv });
    check('tsc --strict --noEmit passes (types resolve; each @ts-expect-error is an error)', typecheck.ok, typecheck.output);
    const bundler = run('node', [tsc, '-p', 'tsconfig.json', '--strict', '--noEmit', '--module', 'esnext', '--moduleResolution', 'bundler'], { cwd: consumer, env: consumerEnv });
    check('... and with moduleResolution bundler', bundler.ok, bundler.output);
    const build = run('node', [tsc, '-p', 'tsconfig.json'], { cwd: consumer, env: consumerEnv });
    if (!check('tsc builds the consumer', build.ok && fs.existsSync(path.join(consumer, 'out', 'main.cjs')), build.output)) return;

    section('run the consumer against PostgreSQL (dry run, real run, V1 and V2 through the routing module)');
    if (!check(`a python with psycopg for V1 (${path.relative(ROOT, python) || python})`, fs.existsSync(python), 'run `bash scripts/setup-python.sh` or set AUDIENCE_ENGINE_PYTHON')) return;
    const { startPostgres, createDatabase } = require('./pg-server.js');
    const { prepareDatabase, generate: generateData, T0 } = require('../bench/datagen.js');
    // TEST_DATABASE_URL (as for jest): a database is created on that server; otherwise a throwaway one.
    if (!process.env.TEST_DATABASE_URL) server = await startPostgres();
    const url = await createDatabase(process.env.TEST_DATABASE_URL ?? server.url, 'audience_engine_package_test');
    await prepareDatabase(url);
    await generateData(url, { users: 2000, quiet: true });
    const asOf = new Date(Date.parse(T0) + 12 * 3600_000).toISOString();
    const outDir = path.join(work, 'out');
    fs.mkdirSync(outDir);
    const consumerRun = run('node', ['out/main.cjs'], {
      cwd: consumer,
      env: { ...consumerEnv, DATABASE_URL: url, AS_OF: asOf, OUT_DIR: outDir, AUDIENCE_ENGINE_PYTHON: python },
      timeoutMs: 180_000,
    });
    const lines = consumerRun.stdout.split('\n');
    for (const line of lines) {
      const okMatch = /^ok - (.*)$/.exec(line);
      const notOk = /^not ok - (.*)$/.exec(line);
      if (okMatch) check(okMatch[1], true);
      else if (notOk) check(notOk[1], false);
    }
    check('the consumer exits 0 by itself (pools closed, nothing left running)', consumerRun.ok, consumerRun.output.slice(-3000));
  } finally {
    if (server) await server.stop().catch((error) => console.error(`could not stop PostgreSQL: ${error.message}`));
    else if (process.env.TEST_DATABASE_URL) await dropDatabase(process.env.TEST_DATABASE_URL, 'audience_engine_package_test').catch(() => undefined);
    if (process.env.KEEP_PACKAGE_TEST) console.log(`\nkept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { ROOT, PLATFORM_DIR, cleanEnv, pathWithoutRust, run, stageAndPack, installTarballs, elfSectionNames };

if (require.main === module) {
  main()
    .catch((error) => check('the package test ran to the end', false, error?.stack ?? String(error)))
    .finally(() => {
      summary();
    });
}
