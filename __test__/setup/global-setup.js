'use strict';
// Starts the PostgreSQL the suite runs against, unless TEST_DATABASE_URL names one, and the
// servers of the connection tests (TLS-only PostgreSQL servers, PgBouncer; see
// connection-servers.js). Test files create their own databases on them (see helpers/db.ts).
const { startPostgres } = require('../../scripts/pg-server.js');
const { startConnectionServers } = require('./connection-servers.js');

module.exports = async function globalSetup() {
  let mainUrl = process.env.TEST_DATABASE_URL;
  if (mainUrl) {
    process.env.AUDIENCE_ENGINE_TEST_ADMIN_URL = mainUrl;
  } else {
    const server = await startPostgres();
    globalThis.__AUDIENCE_ENGINE_PG__ = server;
    mainUrl = server.url;
    process.env.AUDIENCE_ENGINE_TEST_ADMIN_URL = server.url;
    process.env.AUDIENCE_ENGINE_TEST_DATA_DIR = server.dataDir;
  }
  const { connections, stop } = await startConnectionServers(mainUrl);
  globalThis.__AUDIENCE_ENGINE_CONNECTION_SERVERS__ = stop;
  process.env.AUDIENCE_ENGINE_TEST_CONNECTIONS = JSON.stringify(connections);
};
