'use strict';

module.exports = async function globalTeardown() {
  const server = globalThis.__AUDIENCE_ENGINE_PG__;
  if (server) await server.stop();
};
