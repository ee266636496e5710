#!/usr/bin/env node
'use strict';
// `npm run test:package`: the package as a dependency, on a machine with Node and no Rust.
//
// 1. Checks the linux-x64-musl binary without running it (no musl Node here): an x86-64 ELF
//    shared object, stripped, that needs musl's libc (and libgcc_s) and nothing of glibc, and
//    that musl's own dynamic loader links, missing only what Node and libgcc_s provide.
// 2. Stages the main package and the linux-x64-gnu and linux-x64-musl platform packages the
//    way a release does: `napi artifacts` copies the release binaries into npm/<platform>,
//    `napi prepublish --skip-optional-publish` writes the main package's optionalDependencies;
//    then `npm pack` packs the three. Only these platforms are built here, so napi is given a
//    config naming only them; the committed package.json keeps every target (docs/packaging.md).
// 3. Creates a fresh project in a temp dir and `npm install`s the main and glibc tarballs
//    offline, with an empty npm cache and a PATH without cargo or rustc; and a second one as an
//    Alpine host would (`--libc=musl`) with the main and musl tarballs, which gets the musl
//    package and a loader that requires it (not loaded: there is no musl Node here).
// 4. Imports both entry points from an ES module; compiles __test__/package-consumer (strict,
//    node16 and bundler resolution, our .d.ts checked); compiles its push-blaster host fixtures
//    a second time with only their import line pointing at the seed's `./generators` module
//    (restated in seed/): the one-import test.
// 5. Runs the consumer against a throwaway PostgreSQL loaded with a synthetic marketplace: a
//    dry run, a real run, and V1 then V2 through `audience-engine/automation`; then the host
//    fixtures (push-blaster/main.cjs) with AUTOMATION_ENGINE_VERSION=v2 and without it.
// 6. Checks that nothing installed has an install script and that the binary loaded without
//    NAPI_RS_NATIVE_LIBRARY_PATH.
//
// Needs: the release binaries (`npm run build` and `npm run build:musl`, which `npm run
// test:package` runs first; or AUDIENCE_ENGINE_BINARY / AUDIENCE_ENGINE_MUSL_BINARY = path),
// musl's dynamic loader /lib/ld-musl-x86_64.so.1 (Debian: musl, with musl-tools), dist/ built,
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
const MUSL_DIR = 'linux-x64-musl';
const MUSL_TRIPLE = 'x86_64-unknown-linux-musl';
/** musl's dynamic loader (Debian's musl package; Alpine's /lib has the same file). */
const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';
/** Libraries only glibc systems have: the musl binary must need none of them. */
const GLIBC_LIBRARIES = /^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libutil\.so\.1|ld-linux[-.\w]*\.so\.\d+)$/;

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

/** The sections of a 64-bit little-endian ELF file: name, type, file offset, size, link. */
function elfSections(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const header = (i) => shoff + i * shentsize;
  const strtab = Number(buf.readBigUInt64LE(header(shstrndx) + 0x18));
  const sections = [];
  for (let i = 0; i < shnum; i += 1) {
    const h = header(i);
    const nameOffset = strtab + buf.readUInt32LE(h);
    sections.push({
      name: buf.toString('latin1', nameOffset, buf.indexOf(0, nameOffset)),
      type: buf.readUInt32LE(h + 4),
      offset: Number(buf.readBigUInt64LE(h + 0x18)),
      size: Number(buf.readBigUInt64LE(h + 0x20)),
      link: buf.readUInt32LE(h + 0x28),
    });
  }
  return sections;
}

/** Section names of an ELF file: to see whether the binary is stripped. */
function elfSectionNames(file) {
  return elfSections(fs.readFileSync(file)).map((s) => s.name);
}

/**
 * What a shared object asks of the dynamic loader: its ELF type and machine, its NEEDED
 * libraries, and every string of its dynamic string table (symbol and version names, so a
 * `GLIBC_2.x` version requirement shows).
 */
function elfDynamicInfo(file) {
  const buf = fs.readFileSync(file);
  const sections = elfSections(buf);
  const dynamic = sections.find((s) => s.type === 6); // SHT_DYNAMIC
  if (!dynamic) throw new Error('no dynamic section');
  const dynstr = sections[dynamic.link];
  const str = (offset) => buf.toString('latin1', dynstr.offset + offset, buf.indexOf(0, dynstr.offset + offset));
  const needed = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = buf.readBigInt64LE(at);
    if (tag === 0n) break; // DT_NULL
    if (tag === 1n) needed.push(str(Number(buf.readBigUInt64LE(at + 8)))); // DT_NEEDED
  }
  const strings = buf.toString('latin1', dynstr.offset, dynstr.offset + dynstr.size).split('\0').filter(Boolean);
  return { type: buf.readUInt16LE(0x10), machine: buf.readUInt16LE(0x12), needed, strings, sections };
}

/**
 * Links `file` with musl's dynamic loader in list mode (musl's `ldd`), which loads its NEEDED
 * libraries and resolves every symbol without running anything. Returns the libraries it could
 * not find, the symbols it could not resolve, and what it printed.
 */
function muslLink(file) {
  const listed = run(MUSL_LOADER, ['--list', file]);
  const missingLibraries = [...listed.output.matchAll(/Error loading shared library ([^:]+): /g)].map((m) => m[1]);
  const missingSymbols = [...listed.output.matchAll(/Error relocating [^:]+: ([^:]+): symbol not found/g)].map((m) => m[1]);
  return { output: listed.output, missingLibraries, missingSymbols };
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
 * Stages the main package and the linux-x64-gnu package (and, given `muslBinary`, the
 * linux-x64-musl one) in `<work>/stage` as a release does, and packs them into
 * `<work>/tarballs`: `napi artifacts` copies each binary into npm/<platform>, `napi prepublish
 * --skip-optional-publish` writes optionalDependencies. napi validates that every configured
 * target has its binary, so it is given a config naming the targets built here. Returns each
 * step's result; the tarball paths when packing worked.
 */
function stageAndPack(work, binary, { muslBinary } = {}) {
  const pkg = readJson(path.join(ROOT, 'package.json'));
  const binaryName = pkg.napi.binaryName;
  const platforms = [{ dir: PLATFORM_DIR, triple: PLATFORM_TRIPLE, binary }];
  if (muslBinary) platforms.push({ dir: MUSL_DIR, triple: MUSL_TRIPLE, binary: muslBinary });
  const napi = path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
  const stage = path.join(work, 'stage');
  fs.mkdirSync(stage);
  for (const entry of [...pkg.files, 'package.json', 'README.md', 'LICENSE']) {
    if (fs.existsSync(path.join(ROOT, entry))) copy(path.join(ROOT, entry), path.join(stage, entry));
  }
  const artifacts = path.join(work, 'artifacts');
  fs.mkdirSync(artifacts);
  for (const platform of platforms) {
    copy(path.join(ROOT, 'npm', platform.dir), path.join(stage, 'npm', platform.dir));
    fs.copyFileSync(platform.binary, path.join(artifacts, `${binaryName}.${platform.dir}.node`));
  }
  const napiConfig = path.join(work, 'napi-config.json');
  fs.writeFileSync(napiConfig, JSON.stringify({ binaryName, targets: platforms.map((p) => p.triple) }));
  const artifactsRun = run('node', [napi, 'artifacts', '-c', napiConfig, '-o', artifacts], { cwd: stage });
  for (const platform of platforms) {
    // artifacts also drops a copy at the root; the main package never ships it
    fs.rmSync(path.join(stage, `${binaryName}.${platform.dir}.node`), { force: true });
  }
  const prepublish = run('node', [napi, 'prepublish', '-t', 'npm', '--skip-optional-publish', '--no-gh-release', '-c', napiConfig], { cwd: stage });
  const tarballs = path.join(work, 'tarballs');
  fs.mkdirSync(tarballs);
  const pack = (dir) => run('npm', ['pack', '--json', '--pack-destination', tarballs], { cwd: dir });
  const tarball = (packed) => (packed?.ok ? path.join(tarballs, JSON.parse(packed.stdout)[0].filename) : null);
  const packMain = pack(stage);
  const packPlatform = pack(path.join(stage, 'npm', PLATFORM_DIR));
  const packMusl = muslBinary ? pack(path.join(stage, 'npm', MUSL_DIR)) : undefined;
  return {
    stage, artifactsRun, prepublish, packMain, packPlatform, packMusl,
    mainTgz: tarball(packMain), platformTgz: tarball(packPlatform), muslTgz: tarball(packMusl),
  };
}

/** A new project `name` in `dir` with the tarballs installed: offline, nothing from a registry. */
function installTarballs(dir, name, tarballs, env) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true }, null, 2)}\n`);
  return run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: dir, env });
}

/** Counts each `ok - ` / `not ok - ` line a consumer program printed as a check. */
function reportLines(stdout) {
  for (const line of stdout.split('\n')) {
    const okMatch = /^ok - (.*)$/.exec(line);
    const notOk = /^not ok - (.*)$/.exec(line);
    if (okMatch) check(okMatch[1], true);
    else if (notOk) check(notOk[1], false);
  }
}

/**
 * Copies the consumer's push-blaster host fixture `hostFile` and its neighbours into
 * `<consumer>/<label>`, points its `audience-engine` import at the restated seed module
 * `seed/<seedModule>`, and compiles it with `tsc --strict`. Returns how many lines the
 * rewrite changed and tsc's result.
 */
function compileAgainstSeed(consumer, tsc, env, hostFile, seedModule, label) {
  const dir = path.join(consumer, label);
  copy(path.join(consumer, 'src'), path.join(dir, 'src'));
  const file = path.join(dir, 'src', 'push-blaster', hostFile);
  const original = fs.readFileSync(file, 'utf8').split('\n');
  const rewritten = original.map((line) => line.replace(/from 'audience-engine';$/, `from '../seed/${seedModule}';`));
  fs.writeFileSync(file, rewritten.join('\n'));
  const changed = rewritten.filter((line, i) => line !== original[i]).length;
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { rootDir: 'src', noEmit: true }, include: [], files: [`src/push-blaster/${hostFile}`] }),
  );
  const result = run('node', [tsc, '-p', 'tsconfig.json', '--strict'], { cwd: dir, env });
  return { changed, result };
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
  const muslPkg = readJson(path.join(ROOT, 'npm', MUSL_DIR, 'package.json'));
  const muslFile = `${binaryName}.${MUSL_DIR}.node`;
  const muslBinary = path.resolve(process.env.AUDIENCE_ENGINE_MUSL_BINARY ?? path.join(ROOT, muslFile));
  // scripts/test-package.sh sets this where the musl toolchain is missing (never in CI).
  const withMusl = !process.env.AUDIENCE_ENGINE_SKIP_MUSL;
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

    if (withMusl) {
      section('the linux-x64-musl binary (for node:20-alpine; checked, not loaded: no musl Node here)');
      if (!check(`${path.relative(ROOT, muslBinary)} exists (npm run build:musl)`, fs.existsSync(muslBinary))) return;
      const musl = elfDynamicInfo(muslBinary);
      const muslSize = fs.statSync(muslBinary).size;
      check('it is an x86-64 ELF shared object (ET_DYN, EM_X86_64)', musl.type === 3 && musl.machine === 62, `type ${musl.type}, machine ${musl.machine}`);
      check(
        `it is stripped: no symbol table, no debug info (${muslSize} bytes, ${(muslSize / 1024 / 1024).toFixed(2)} MiB)`,
        !musl.sections.some((s) => s.name === '.symtab' || s.name.startsWith('.debug')),
      );
      check(
        `it needs musl's libc and libgcc_s only (NEEDED: ${musl.needed.join(', ')}); node:20-alpine has libgcc_s, as its own node needs it`,
        musl.needed.includes('libc.so') && musl.needed.every((lib) => lib === 'libc.so' || lib === 'libgcc_s.so.1'),
        musl.needed.join(', '),
      );
      check(
        'nothing of glibc: no glibc library needed, no GLIBC_ symbol version',
        !musl.needed.some((lib) => GLIBC_LIBRARIES.test(lib)) && !musl.strings.some((name) => name.startsWith('GLIBC_')),
        [...musl.needed.filter((lib) => GLIBC_LIBRARIES.test(lib)), ...musl.strings.filter((n) => n.startsWith('GLIBC_'))].join(', '),
      );
      if (check(`musl's dynamic loader is here (${MUSL_LOADER}; Debian: apt-get install musl-tools)`, fs.existsSync(MUSL_LOADER))) {
        const linked = muslLink(muslBinary);
        const foreign = linked.missingSymbols.filter((symbol) => !/^(napi_|_Unwind_)/.test(symbol));
        check(
          "musl's loader links it: libc.so is musl itself; it misses only Node's napi_* and libgcc_s's _Unwind_* symbols",
          /^\s*libc\.so => \/lib\/ld-musl-x86_64\.so\.1 /m.test(linked.output) &&
            linked.missingLibraries.every((lib) => lib === 'libgcc_s.so.1') &&
            linked.missingSymbols.some((symbol) => symbol.startsWith('napi_')) &&
            foreign.length === 0,
          foreign.length ? `unresolved: ${foreign.join(', ')}` : linked.output.slice(0, 2000),
        );
      }
    } else {
      console.log('# SKIPPED: the linux-x64-musl package (no musl toolchain here; see scripts/test-package.sh)');
    }

    section('stage and pack (napi artifacts, napi prepublish, npm pack)');
    const { stage, artifactsRun, prepublish, packMain, packPlatform, packMusl, mainTgz, platformTgz, muslTgz } = stageAndPack(work, binary, { muslBinary: withMusl ? muslBinary : undefined });
    check(
      'napi artifacts copies the binaries into npm/linux-x64-gnu and npm/linux-x64-musl',
      artifactsRun.ok && fs.existsSync(path.join(stage, 'npm', PLATFORM_DIR, binaryFile)) && fs.existsSync(path.join(stage, 'npm', MUSL_DIR, muslFile)),
      artifactsRun.output,
    );
    const staged = readJson(path.join(stage, 'package.json'));
    check(
      `napi prepublish wires optionalDependencies: ${platformPkg.name}@${pkg.version}, ${muslPkg.name}@${pkg.version}`,
      prepublish.ok && staged.optionalDependencies?.[platformPkg.name] === pkg.version && staged.optionalDependencies?.[muslPkg.name] === pkg.version,
      prepublish.output || JSON.stringify(staged.optionalDependencies),
    );
    const loader = fs.readFileSync(path.join(stage, 'index.js'), 'utf8');
    check(
      `the generated loader requires '${platformPkg.name}', and '${muslPkg.name}' where libc is musl`,
      loader.includes(`require('${platformPkg.name}')`) && loader.includes(`require('${muslPkg.name}')`),
    );
    check(
      'the platform packages declare os, cpu and libc (so other platforms skip them)',
      JSON.stringify([platformPkg.os, platformPkg.cpu, platformPkg.libc]) === JSON.stringify([['linux'], ['x64'], ['glibc']]) &&
        JSON.stringify([muslPkg.os, muslPkg.cpu, muslPkg.libc]) === JSON.stringify([['linux'], ['x64'], ['musl']]),
    );
    check(
      'the platform packages have the main package version',
      platformPkg.version === pkg.version && muslPkg.version === pkg.version,
      `${platformPkg.version}, ${muslPkg.version} vs ${pkg.version}`,
    );
    if (!check('npm pack packs the three packages', packMain.ok && packPlatform.ok && packMusl?.ok, `${packMain.output}\n${packPlatform.output}\n${packMusl?.output}`)) return;
    const mainFiles = listTarball(mainTgz);
    const platformFiles = listTarball(platformTgz);
    const mustShip = [
      'package.json', 'index.js', 'index.d.ts', 'dist/index.js', 'dist/index.d.ts', 'dist/automation.js', 'dist/automation.d.ts',
      'dist/types.d.ts', 'dist/cli.js', 'bin/audience-engine.js', 'legacy/generate_layer_3_push_csvs.py', 'legacy/generate_new_user_waterfall.py', 'legacy/v1_common.py',
      'legacy/requirements.txt',
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
    if (withMusl) {
      const muslFiles = listTarball(muslTgz);
      check(
        `the musl package ships ${muslFile} and its manifest only`,
        muslFiles.filter((f) => f.endsWith('.node')).join() === muslFile && muslFiles.includes('package.json'),
        muslFiles.join(', '),
      );
      const muslTgzSize = fs.statSync(muslTgz).size;
      console.log(`     ${path.basename(muslTgz)}: ${(muslTgzSize / 1024).toFixed(0)} KiB packed (${muslFile}: ${fs.statSync(muslBinary).size} bytes)`);
    }

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
    check(`the glibc host did not install ${muslPkg.name}`, !fs.existsSync(path.join(nodeModules, muslPkg.name)));

    if (withMusl) {
      section('install as an Alpine (musl) host would: npm --libc=musl, offline, no cargo or rustc on PATH');
      // Only the main package is asked for; npm picks the platform package from its
      // optionalDependencies by os, cpu and libc (libc = musl by npm's --libc, which npm applies
      // to optional packages only). `overrides` stand in for the registry: each platform package
      // comes from its tarball.
      const alpine = path.join(work, 'consumer-musl');
      const alpineEnv = { ...consumerEnv, npm_config_libc: 'musl' };
      fs.mkdirSync(alpine);
      const overrides = { [platformPkg.name]: `file:${platformTgz}`, [muslPkg.name]: `file:${muslTgz}` };
      fs.writeFileSync(path.join(alpine, 'package.json'), `${JSON.stringify({ name: 'package-consumer-musl', version: '1.0.0', private: true, overrides }, null, 2)}\n`);
      const alpineInstall = run('npm', ['install', '--offline', '--no-audit', '--no-fund', mainTgz], { cwd: alpine, env: alpineEnv });
      if (check('npm install --libc=musl of the main tarball succeeds', alpineInstall.ok, alpineInstall.output)) {
        const alpineModules = path.join(alpine, 'node_modules');
        const installedMusl = path.join(alpineModules, muslPkg.name, muslFile);
        check(
          `npm chose ${muslPkg.name} (the binary built here, byte for byte) and skipped ${platformPkg.name}`,
          fs.existsSync(installedMusl) && fs.readFileSync(installedMusl).equals(fs.readFileSync(muslBinary)) && !fs.existsSync(path.join(alpineModules, platformPkg.name)),
        );
        const alpineLs = run('npm', ['ls', '--all', '--json'], { cwd: alpine, env: alpineEnv });
        const alpineTree = JSON.parse(alpineLs.stdout || '{}');
        check(
          `npm ls: ${pkg.name}'s optional dependency on ${muslPkg.name} resolves to the installed package`,
          alpineLs.ok && !alpineTree.problems && alpineTree.dependencies?.[pkg.name]?.dependencies?.[muslPkg.name]?.version === pkg.version,
          alpineLs.output.slice(0, 2000),
        );
        // What the loader does on Alpine (isMusl() true): require('audience-engine-linux-x64-musl').
        // Resolved here from the main package's directory, as its require would; not loaded.
        const resolved = run(
          'node',
          ['-e', `console.log(require.resolve(${JSON.stringify(muslPkg.name)}, { paths: [${JSON.stringify(path.join(alpineModules, pkg.name))}] }))`],
          { cwd: alpine, env: alpineEnv },
        );
        check(
          `from the main package, '${muslPkg.name}' resolves to ${muslFile}`,
          resolved.ok && fs.existsSync(resolved.stdout.trim()) && fs.realpathSync(resolved.stdout.trim()) === fs.realpathSync(installedMusl),
          resolved.output,
        );
        const alpineScripts = installedManifests(alpineModules).filter(({ pkg: m }) => ['preinstall', 'install', 'postinstall'].some((s) => m.scripts?.[s]));
        check('no package installed on the musl host has an install script', alpineScripts.length === 0, alpineScripts.map((m) => m.pkg.name).join(', '));
      }
    }

    const esm = run(
      'node',
      [
        '--input-type=module',
        '-e',
        "import { generate, generateLayer3, generatorRegistry, listGenerators, shutdown } from 'audience-engine';\n" +
          "import { executeAudienceGeneration } from 'audience-engine/automation';\n" +
          "if (![generate, generateLayer3, listGenerators, shutdown, executeAudienceGeneration].every((f) => typeof f === 'function')) throw new Error('missing export');\n" +
          "console.log((await listGenerators()).map((g) => g.name).join());\n" +
          "console.log(generatorRegistry.list().join());",
      ],
      { cwd: consumer, env: consumerEnv },
    );
    const [listed, registered] = esm.stdout.trim().split('\n');
    check(
      'an ES module host imports the named exports of both entry points (generatorRegistry too)',
      esm.ok && (listed ?? '').split(',').includes('layer3-behavior') && registered === listed,
      esm.output,
    );

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

    section("one import: the push-blaster host fixtures compile against the seed's ./generators module too");
    const hosts = [
      { file: 'seed-host.cts', seed: 'generators-sync.cjs', registry: 'the seed design\'s synchronous registry' },
      { file: 'upstream-host.cts', seed: 'generators-async.cjs', registry: 'the deployed async registry' },
    ];
    for (const host of hosts) {
      const { changed, result } = compileAgainstSeed(consumer, tsc, consumerEnv, host.file, host.seed, `seed-${path.basename(host.file, '.cts')}`);
      check(`push-blaster/${host.file} differs from its seed build by its import line only`, changed === 1, `${changed} lines changed`);
      check(`... and compiles (tsc --strict) against ${host.registry} (seed/${host.seed.replace(/\.cjs$/, '.cts')})`, result.ok, result.output);
    }
    // The two seed hosts really differ: the synchronous one does not compile against the async
    // registry, so a registry that served only one of them would not do.
    const crossed = compileAgainstSeed(consumer, tsc, consumerEnv, 'seed-host.cts', 'generators-async.cjs', 'seed-crossed');
    check(
      'the seed-design host does not compile against the async registry (ours serves both)',
      !crossed.result.ok && /TS2801|TS2339/.test(crossed.result.output),
      crossed.result.output.slice(0, 1000),
    );

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
    reportLines(consumerRun.stdout);
    check('the consumer exits 0 by itself (pools closed, nothing left running)', consumerRun.ok, consumerRun.output.slice(-3000));

    section('the push-blaster host fixtures against PostgreSQL (outputDir .script-outputs, no asOf, the flag read at import)');
    for (const engine of ['v1', 'v2']) {
      const hostEnv = { ...consumerEnv, DATABASE_URL: url, AS_OF: asOf, EXPECT_ENGINE: engine };
      delete hostEnv.AUTOMATION_ENGINE_VERSION;
      if (engine === 'v2') hostEnv.AUTOMATION_ENGINE_VERSION = 'v2';
      const hostRun = run('node', ['out/push-blaster/main.cjs'], { cwd: consumer, env: hostEnv, timeoutMs: 180_000 });
      reportLines(hostRun.stdout);
      check(
        `the host fixture exits 0 by itself (AUTOMATION_ENGINE_VERSION ${engine === 'v2' ? '= v2' : 'unset'})`,
        hostRun.ok && /^ok - /m.test(hostRun.stdout),
        hostRun.output.slice(-3000),
      );
    }
  } finally {
    if (server) await server.stop().catch((error) => console.error(`could not stop PostgreSQL: ${error.message}`));
    else if (process.env.TEST_DATABASE_URL) await dropDatabase(process.env.TEST_DATABASE_URL, 'audience_engine_package_test').catch(() => undefined);
    if (process.env.KEEP_PACKAGE_TEST) console.log(`\nkept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { ROOT, PLATFORM_DIR, MUSL_DIR, cleanEnv, pathWithoutRust, run, stageAndPack, installTarballs, elfSectionNames, elfDynamicInfo };

if (require.main === module) {
  main()
    .catch((error) => check('the package test ran to the end', false, error?.stack ?? String(error)))
    .finally(() => {
      summary();
    });
}
