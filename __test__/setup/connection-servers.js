'use strict';
// The servers the connection tests (tls.test.ts, pooler.test.ts) run against, started by the
// global set-up beside the suite's main server:
// - a PostgreSQL that accepts only TLS, with a CA, server and client certificates made at test
//   time (`certuser` logs in with a client certificate, everyone else with a password);
// - a TLS-only PostgreSQL whose certificate names another host (db.example.com);
// - PgBouncer in transaction mode in front of the main server, where `pgbouncer` is installed.
// Their URLs and the certificates' paths reach the tests through AUDIENCE_ENGINE_TEST_CONNECTIONS.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startPostgres } = require('../../scripts/pg-server.js');
const { pgbouncerPath, startPgBouncer } = require('../../scripts/pgbouncer.js');
const { makeCertificates } = require('../../scripts/test-certs.js');

const CERT_USER = 'certuser';

/** Starts the servers; returns what the tests need and a `stop()` for the teardown. */
async function startConnectionServers(mainUrl) {
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-certs-'));
  const stops = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    fs.rmSync(certDir, { recursive: true, force: true });
  };
  try {
    const certs = await makeCertificates(certDir, { clientUser: CERT_USER });
    const started = await Promise.allSettled([
      startPostgres({
        tls: {
          certFile: certs.serverCert,
          keyFile: certs.serverKey,
          caFile: certs.caCert,
          hba: [
            `hostssl all ${CERT_USER} 127.0.0.1/32 cert`,
            'hostssl all all 127.0.0.1/32 scram-sha-256',
            'hostnossl all all 127.0.0.1/32 reject',
          ],
        },
      }),
      startPostgres({ tls: { certFile: certs.wrongHostCert, keyFile: certs.wrongHostKey } }),
    ]);
    for (const server of started) if (server.status === 'fulfilled') stops.push(() => server.value.stop());
    const failed = started.find((server) => server.status === 'rejected');
    if (failed) throw failed.reason;
    const [tlsServer, wrongHostServer] = started.map((server) => server.value);

    let pgbouncer = null;
    let pgbouncerSkipped = null;
    if (pgbouncerPath()) {
      // Nothing in ignore_startup_parameters, as on many real poolers: a client that sends a
      // startup parameter PgBouncer does not know (sqlx's default extra_float_digits) is refused.
      const bouncer = await startPgBouncer({ upstreamUrl: mainUrl, poolMode: 'transaction', defaultPoolSize: 5, ignoreStartupParameters: [] });
      stops.push(() => bouncer.stop());
      pgbouncer = bouncer.url;
    } else {
      pgbouncerSkipped = 'the `pgbouncer` program is not installed (Debian: apt-get install pgbouncer; .ci/run installs it)';
      console.warn(`\n[audience-engine tests] SKIPPING the transaction-pooler tests: ${pgbouncerSkipped}\n`);
    }
    const connections = {
      tlsUrl: tlsServer.url,
      wrongHostUrl: wrongHostServer.url,
      certUser: CERT_USER,
      certs,
      pgbouncerUrl: pgbouncer,
      pgbouncerSkipped,
    };
    return { connections, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

module.exports = { startConnectionServers };
