'use strict';

module.exports = async function globalTeardown() {
  const stopConnectionServers = globalThis.__AUDIENCE_ENGINE_CONNECTION_SERVERS__;
  if (stopConnectionServers) await stopConnectionServers();
  const server = globalThis.__AUDIENCE_ENGINE_PG__;
  if (server) await server.stop();
};
