'use strict';
// A throwaway PgBouncer in front of a test PostgreSQL (scripts/pg-server.js), for the
// tests of running behind a transaction-mode pooler. PgBouncer is not an npm package:
// it comes from the machine (`apt-get install pgbouncer`; .ci/run installs it as root).
//
// PgBouncer refuses to run as root: as root it runs as the `postgres` OS user, as the
// test PostgreSQL does.
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { serverOsUser, endWithProcess, freePort } = require('./pg-server.js');

const START_TIMEOUT_MS = 15_000;

/** The absolute path of the `pgbouncer` executable (PATH, /usr/sbin, /usr/bin), or null. */
function pgbouncerPath() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  const names = process.platform === 'win32' ? ['pgbouncer.exe'] : ['pgbouncer'];
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.resolve(dir, name);
      try {
        if (fs.statSync(file).isFile()) {
          fs.accessSync(file, fs.constants.X_OK);
          return file;
        }
      } catch {
        // not here
      }
    }
  }
  return null;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A value for pgbouncer.ini / the auth file: quoted and escaped as PgBouncer reads it. */
const quote = (value) => `"${String(value).replace(/"/g, '""')}"`;

/**
 * Starts PgBouncer in front of the PostgreSQL at `upstreamUrl` (`postgres://user:password@
 * 127.0.0.1:port/db`, as startPostgres returns it) and resolves once it accepts TCP
 * connections. Configuration (in a fresh temp dir): listens on 127.0.0.1 at a free port;
 * `[databases] * = host=<upstream host> port=<upstream port>` (every database name passes
 * through); `auth_type = scram-sha-256` with the upstream's user and password in the
 * auth_file (PgBouncer logs in upstream with them); `pool_mode`; `default_pool_size`;
 * `max_client_conn = 100`; `ignore_startup_parameters` = `ignoreStartupParameters`, by
 * default `extra_float_digits` (sqlx sends `extra_float_digits=2` unless told not to, and
 * PgBouncer 1.18 closes the connection with "unsupported startup parameter" for any
 * parameter besides user, database, client_encoding, DateStyle, TimeZone,
 * standard_conforming_strings and application_name); pass `[]` for PgBouncer's own default
 * (nothing ignored, as on many real poolers); `admin_users` = the user (the `pgbouncer`
 * admin database answers SHOW POOLS, SHOW SERVERS…). Runs in the foreground (no daemon),
 * its output in `logFile`.
 *
 * The returned `url` is `postgres://<user>:<password>@127.0.0.1:<port>/<upstream's database>`.
 * On failure, throws an Error whose message is one sentence ending with the tail of
 * PgBouncer's log.
 *
 * @param {{ upstreamUrl: string, poolMode?: 'session' | 'transaction' | 'statement',
 *   defaultPoolSize?: number, ignoreStartupParameters?: string[] }} options
 * @returns {Promise<{ url: string, port: number, logFile: string, stop(): Promise<void> }>}
 */
async function startPgBouncer({ upstreamUrl, poolMode = 'transaction', defaultPoolSize = 5, ignoreStartupParameters = ['extra_float_digits'] } = {}) {
  const fail = (cause, log) => new Error(`could not start PgBouncer: ${cause}${log ? `; its log ends with:\n${log}` : ''}`);
  const program = pgbouncerPath();
  if (!program) throw fail('the `pgbouncer` program is not installed (e.g. `apt-get install pgbouncer`)');
  let upstream;
  try {
    upstream = new URL(upstreamUrl);
  } catch {
    throw fail('upstreamUrl is not a URL');
  }
  const user = decodeURIComponent(upstream.username);
  const password = decodeURIComponent(upstream.password);
  const upstreamPort = Number(upstream.port || 5432);
  const upstreamHost = upstream.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  if (!user || !password) throw fail('upstreamUrl must contain a user name and a password');
  if (!['session', 'transaction', 'statement'].includes(poolMode)) throw fail(`poolMode ${JSON.stringify(poolMode)} is not session, transaction or statement`);
  if (!Number.isInteger(defaultPoolSize) || defaultPoolSize < 1) throw fail('defaultPoolSize must be a positive integer');
  const ignored = ignoreStartupParameters;
  if (!Array.isArray(ignored) || ignored.some((p) => typeof p !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) {
    throw fail('ignoreStartupParameters must be an array of parameter names');
  }

  let ids;
  try {
    ids = serverOsUser();
  } catch (error) {
    throw fail(error.message);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-pgbouncer-'));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  const own = (file) => {
    if (ids) fs.chownSync(file, ids.uid, ids.gid);
  };
  own(dir);
  const port = await freePort();
  const authFile = path.join(dir, 'userlist.txt');
  const configFile = path.join(dir, 'pgbouncer.ini');
  const logFile = path.join(dir, 'pgbouncer.log');
  fs.writeFileSync(authFile, `${quote(user)} ${quote(password)}\n`, { mode: 0o600 });
  own(authFile);
  const config = [
    '[databases]',
    `* = host=${upstreamHost} port=${upstreamPort}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${authFile}`,
    `admin_users = ${user}`,
    `pool_mode = ${poolMode}`,
    'max_client_conn = 100',
    `default_pool_size = ${defaultPoolSize}`,
    ...(ignored.length ? [`ignore_startup_parameters = ${ignored.join(',')}`] : []),
    '',
  ].join('\n');
  fs.writeFileSync(configFile, config, { mode: 0o600 });
  own(configFile);

  const logFd = fs.openSync(logFile, 'a', 0o644);
  let child;
  try {
    child = childProcess.spawn(program, [configFile], { cwd: dir, stdio: ['ignore', logFd, logFd], ...(ids ?? {}) });
  } catch (error) {
    remove();
    throw fail(`could not run ${program}: ${error.message}`);
  } finally {
    fs.closeSync(logFd);
  }
  let exitInfo = null;
  let spawnError = null;
  const exited = new Promise((resolve) => {
    child.on('error', (error) => {
      spawnError = error;
      resolve();
    });
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
  });
  endWithProcess(child, 'SIGTERM', exited, remove);

  const stop = async () => {
    for (const [signal, wait] of [['SIGTERM', 5000], ['SIGKILL', 5000]]) {
      if (child.exitCode !== null || child.signalCode !== null || spawnError) break;
      child.kill(signal);
      let timer;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, wait)))]);
      clearTimeout(timer);
    }
    await exited;
    remove();
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError || exitInfo) {
      const log = tail(logFile);
      await stop();
      const why = spawnError ? `could not run ${program}: ${spawnError.message}` : `it exited at once (${exitInfo.code !== null ? `exit code ${exitInfo.code}` : `signal ${exitInfo.signal}`})`;
      throw fail(why, log);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      const log = tail(logFile);
      await stop();
      throw fail(`it did not accept connections on port ${port} within ${START_TIMEOUT_MS / 1000} s`, log);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  const url = new URL(`postgres://127.0.0.1:${port}`);
  url.username = upstream.username;
  url.password = upstream.password;
  url.pathname = upstream.pathname || '/postgres';
  let stopped = null;
  return {
    url: url.toString(),
    port,
    logFile,
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}

module.exports = { pgbouncerPath, startPgBouncer };
