'use strict';
// Starts the PostgreSQL the suite runs against, unless TEST_DATABASE_URL names one.
// Test files create their own databases on it (see helpers/db.ts).
const { startPostgres } = require('../../scripts/pg-server.js');

module.exports = async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) {
    process.env.AUDIENCE_ENGINE_TEST_ADMIN_URL = process.env.TEST_DATABASE_URL;
    return;
  }
  const server = await startPostgres();
  globalThis.__AUDIENCE_ENGINE_PG__ = server;
  process.env.AUDIENCE_ENGINE_TEST_ADMIN_URL = server.url;
  process.env.AUDIENCE_ENGINE_TEST_DATA_DIR = server.dataDir;
};
