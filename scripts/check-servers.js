#!/usr/bin/env node
'use strict';
// `node scripts/check-servers.js`: checks the test servers the suites rely on, with
// node-postgres: certificates (scripts/test-certs.js), a TLS-only PostgreSQL, one with
// client-certificate auth (scripts/pg-server.js), and PgBouncer in transaction mode
// (scripts/pgbouncer.js; skipped when pgbouncer is not installed). Prints `ok - …` /
// `not ok - …` lines and timings; exits 1 if a check fails.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Client } = require('pg');

const { startPostgres } = require('./pg-server.js');
const { makeCertificates } = require('./test-certs.js');
const { pgbouncerPath, startPgBouncer } = require('./pgbouncer.js');

let failed = 0;
function check(name, ok, detail) {
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}${!ok && detail ? `\n  ${String(detail).split('\n').join('\n  ')}` : ''}`);
  if (!ok) failed += 1;
  return ok;
}

async function timed(label, fn) {
  const started = Date.now();
  const value = await fn();
  console.log(`# ${label}: ${Date.now() - started} ms`);
  return value;
}

/** Connects, runs `sql`, returns the first row; or `{ error }` with the message. */
async function query(config, sql) {
  const client = new Client({ connectionTimeoutMillis: 10_000, ...config });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    // (node-postgres: end() after a failed TLS handshake never resolves; nothing to end)
    return { error: error.message };
  }
  try {
    const { rows } = await client.query(sql);
    return rows[0];
  } catch (error) {
    return { error: error.message };
  } finally {
    await client.end().catch(() => {});
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-check-'));
  const servers = [];
  try {
    const certs = await timed('makeCertificates', () => makeCertificates(path.join(dir, 'certs')));
    const read = (file) => fs.readFileSync(file, 'utf8');
    const keyMode = fs.statSync(certs.serverKey).mode & 0o777;
    check('keys are written with mode 0600', keyMode === 0o600, keyMode.toString(8));
    check('the encrypted client key is PEM "ENCRYPTED PRIVATE KEY"', read(certs.clientKeyEncrypted).startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----'));

    // A TLS-only server: hostssl scram-sha-256, hostnossl reject.
    const tlsServer = await timed('startPostgres (TLS only)', () => startPostgres({
      tls: {
        certFile: certs.serverCert,
        keyFile: certs.serverKey,
        caFile: certs.caCert,
        hba: ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostnossl all all 127.0.0.1/32 reject'],
      },
    }));
    servers.push(tlsServer);
    const ssl = { ca: read(certs.caCert), servername: 'localhost' };
    const overTls = await query({ connectionString: tlsServer.url, ssl }, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    check('TLS-only server: a verified TLS connection (CA + servername localhost), pg_stat_ssl.ssl', overTls.ssl === true, JSON.stringify(overTls));
    const plain = await query({ connectionString: tlsServer.url }, 'SELECT 1 AS one');
    check('TLS-only server: a connection without TLS is refused', /no encryption|reject/i.test(plain.error ?? ''), JSON.stringify(plain));
    const otherCa = await query({ connectionString: tlsServer.url, ssl: { ca: read(certs.otherCaCert), servername: 'localhost' } }, 'SELECT 1 AS one');
    check('TLS-only server: a client trusting another CA refuses the server', /self.signed|unable to (get|verify)/i.test(otherCa.error ?? ''), JSON.stringify(otherCa));
    const wrongName = await query({ connectionString: tlsServer.url, ssl: { ca: read(certs.caCert), servername: 'db.example.com' } }, 'SELECT 1 AS one');
    check('TLS-only server: a client expecting db.example.com refuses the server', /altnames|does not match/i.test(wrongName.error ?? ''), JSON.stringify(wrongName));
    const badPassword = await query({ connectionString: tlsServer.url.replace(':audience-engine-test@', ':wrong@'), ssl }, 'SELECT 1 AS one');
    check('TLS-only server: a wrong password is refused (scram-sha-256)', /password authentication failed/.test(badPassword.error ?? ''), JSON.stringify(badPassword));

    // Client-certificate auth.
    const certServer = await timed('startPostgres (cert auth)', () => startPostgres({
      tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert, hba: ['hostssl all all 127.0.0.1/32 cert'] },
    }));
    servers.push(certServer);
    const noPassword = certServer.url.replace(':audience-engine-test@', '@');
    const withCert = await query(
      { connectionString: noPassword, ssl: { ...ssl, cert: read(certs.clientCert), key: read(certs.clientKey) } },
      'SELECT current_user AS who, (SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS dn',
    );
    check('cert server: the client certificate (CN=postgres) logs in without a password', withCert.who === 'postgres', JSON.stringify(withCert));
    const withEncryptedKey = await query(
      { connectionString: noPassword, ssl: { ...ssl, cert: read(certs.clientCert), key: read(certs.clientKeyEncrypted), passphrase: 'secret' } },
      'SELECT current_user AS who',
    );
    check('cert server: ... and with the encrypted key and its passphrase', withEncryptedKey.who === 'postgres', JSON.stringify(withEncryptedKey));
    const withoutCert = await query({ connectionString: certServer.url, ssl }, 'SELECT 1 AS one');
    check('cert server: no client certificate is refused', Boolean(withoutCert.error), JSON.stringify(withoutCert));
    const otherCert = await query(
      { connectionString: noPassword, ssl: { ...ssl, cert: read(certs.otherClientCert), key: read(certs.otherClientKey) } },
      'SELECT 1 AS one',
    );
    check('cert server: a client certificate from another CA is refused', Boolean(otherCert.error), JSON.stringify(otherCert));

    // PgBouncer, transaction mode.
    if (!pgbouncerPath()) {
      console.log('# skip PgBouncer: pgbouncer is not installed');
    } else {
      const upstream = await timed('startPostgres (plain)', () => startPostgres());
      servers.push(upstream);
      const bouncer = await timed('startPgBouncer', () => startPgBouncer({ upstreamUrl: upstream.url, poolMode: 'transaction', defaultPoolSize: 2 }));
      servers.push(bouncer);
      const { Pool } = require('pg');
      const pool = new Pool({ connectionString: bouncer.url, max: 6 });
      try {
        await pool.query('CREATE TABLE IF NOT EXISTS bounced (n int)');
        await Promise.all(Array.from({ length: 12 }, async (_, n) => {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            await client.query('INSERT INTO bounced VALUES ($1)', [n]);
            await client.query("SELECT set_config('application_name', $1, true)", [`tx${n}`]);
            await client.query('COMMIT');
          } finally {
            client.release();
          }
        }));
        const { rows } = await pool.query('SELECT count(*)::int AS n FROM bounced');
        check('PgBouncer: 12 transactions (parameters bound) through a transaction-mode pool', rows[0].n === 12, JSON.stringify(rows));
      } catch (error) {
        check('PgBouncer: 12 transactions through a transaction-mode pool', false, error.message);
      } finally {
        await pool.end();
      }
      const backends = await query({ connectionString: upstream.url }, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
      check('PgBouncer: at most default_pool_size (2) server connections', backends.n <= 2, JSON.stringify(backends));
      const admin = new URL(bouncer.url);
      admin.pathname = '/pgbouncer';
      const mode = await query({ connectionString: admin.toString() }, 'SHOW CONFIG');
      check('PgBouncer: the admin console answers', !mode.error, JSON.stringify(mode));
      const bad = await query({ connectionString: bouncer.url.replace(':audience-engine-test@', ':wrong@') }, 'SELECT 1 AS one');
      check('PgBouncer: a wrong password is refused', Boolean(bad.error), JSON.stringify(bad));
    }
  } finally {
    for (const server of servers.reverse()) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(failed ? `# ${failed} check(s) failed` : '# all checks passed');
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  console.error(error?.code === 'PG_SERVER_START' ? error.message : error);
  process.exit(1);
});
