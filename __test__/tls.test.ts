// TLS against real servers: a PostgreSQL that accepts only TLS, with a CA, server and client
// certificates made at test time (setup/connection-servers.js). Every sslmode that should
// connect writes the same six files, byte for byte, as a plain connection; every refusal names
// its cause, and no message shows a password or a key.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { executeAudienceGeneration } from '../ts/automation';
import { compareEngines } from '../ts/compare';
import { explainUser, generate, shutdown } from '../ts/index';
import type { GeneratorResult } from '../ts/types';
import { connectionServers, filesOf, noVerify, withParams } from './helpers/connections';
import { createTestDatabase, ROOT, withClient } from './helpers/db';
import { AS_OF, loadFixture } from './helpers/layer3-fixture';
import { scratchDirs } from './helpers/scratch';

const servers = connectionServers();
const { certs } = servers;
const tmp = scratchDirs('tls');
const PASSWORD = new URL(servers.tlsUrl).password;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let plainUrl: string;
let tlsUrl: string; // the fixture's database on the TLS-only server, without parameters
let wrongHostUrl: string;
let reference: Record<string, string>;

const run = (databaseUrl: string, options: Record<string, unknown> = {}) =>
  generate('layer3-behavior', { databaseUrl, asOf: AS_OF, outputDir: tmp('out'), onLog: () => undefined, acquireTimeoutMs: 5000, ...options });

/** The failure's code and message, checked to show no password and no key. */
function failureOf(result: GeneratorResult): { code: string | undefined; message: string } {
  expect(result.success).toBe(false);
  const message = result.error ?? '';
  expect(message).not.toContain(PASSWORD);
  for (const key of [certs.clientKey, certs.serverKey]) {
    const body = fs.readFileSync(key, 'utf8').split('\n')[1];
    expect(message).not.toContain(body);
  }
  return { code: result.errorCode, message };
}

beforeAll(async () => {
  plainUrl = await createTestDatabase('tls_reference');
  await loadFixture(plainUrl);
  const tlsAdmin = noVerify(await createTestDatabase('tls_data', 'default', noVerify(servers.tlsUrl)));
  await loadFixture(tlsAdmin);
  await withClient(tlsAdmin, async (client) => {
    await client.query(`DO $$ BEGIN CREATE ROLE ${servers.certUser} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${servers.certUser}`);
  });
  tlsUrl = withParams(tlsAdmin, {});
  wrongHostUrl = withParams(await createTestDatabase('tls_wrong_host', 'default', noVerify(servers.wrongHostUrl)), {});
  reference = filesOf(await run(plainUrl));
  expect(Object.keys(reference)).toHaveLength(6);
}, 120_000);

afterAll(async () => {
  await shutdown();
});

describe('connecting over TLS writes the same files as a plain connection', () => {
  test.each([
    ['require', { sslmode: 'require' }],
    ['verify-ca with the CA', { sslmode: 'verify-ca', sslrootcert: certs.caCert }],
    ['verify-full with the CA', { sslmode: 'verify-full', sslrootcert: certs.caCert }],
    ['prefer (the default) against a TLS-only server', {}],
    ['allow against a TLS-only server (asks again over TLS, as libpq)', { sslmode: 'allow' }],
  ])('%s', async (_name, params) => {
    expect(filesOf(await run(withParams(tlsUrl, params)))).toEqual(reference);
  });

  test('PGSSLMODE and PGSSLROOTCERT apply when the URL does not set them, read from process.env at call time', async () => {
    const saved = { mode: process.env.PGSSLMODE, root: process.env.PGSSLROOTCERT };
    try {
      process.env.PGSSLMODE = 'verify-full';
      process.env.PGSSLROOTCERT = certs.otherCaCert;
      const refused = failureOf(await run(tlsUrl));
      expect(refused.message).toContain(`not trusted by sslrootcert (${certs.otherCaCert})`);
      process.env.PGSSLROOTCERT = certs.caCert;
      expect(filesOf(await run(tlsUrl))).toEqual(reference);
      // The URL wins over the environment.
      const disabled = failureOf(await run(withParams(tlsUrl, { sslmode: 'disable' })));
      expect(disabled.message).toContain('sslmode=disable');
    } finally {
      for (const [name, value] of [['PGSSLMODE', saved.mode], ['PGSSLROOTCERT', saved.root]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test('a client certificate logs in where pg_hba.conf asks for one (hostssl … cert)', async () => {
    const url = new URL(withParams(tlsUrl, { sslmode: 'verify-full', sslrootcert: certs.caCert, sslcert: certs.clientCert, sslkey: certs.clientKey }));
    url.username = servers.certUser;
    url.password = '';
    expect(filesOf(await run(url.toString()))).toEqual(reference);
  });

  test('verify-ca checks the issuer but not the host name', async () => {
    const result = await run(withParams(wrongHostUrl, { sslmode: 'verify-ca', sslrootcert: certs.caCert }));
    expect(result.success).toBe(true);
  });

  test('explainUser and compare (V1 through psycopg, V2 through the engine) take the same URL', async () => {
    // compare's V1 is the Python script: libpq reads the same sslmode and files.
    const url = withParams(tlsUrl, { sslmode: 'verify-full', sslrootcert: certs.caCert });
    const explained = await explainUser('00000000-0000-4000-8000-000000000001', { databaseUrl: url, asOf: AS_OF, onLog: () => undefined });
    expect(explained.success).toBe(true);
    const python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
    const report = await compareEngines({ databaseUrl: url, asOf: AS_OF, rules: 'v2', pythonPath: python, env: {}, outDir: tmp('compare') });
    expect(report.same).toBe(true);
    expect(report.v2AudienceSize).toBeGreaterThan(0);
  });

  test('audience-engine/automation: V1 and V2 read DATABASE_URL and PGSSL* from the host\'s config.env alike', async () => {
    const python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
    const automation = { id: 'tls', audienceCriteria: { customScript: { scriptId: 'generate_layer_3_push_csvs' } } };
    for (const version of ['v1', 'v2']) {
      const env = { AUTOMATION_ENGINE_VERSION: version, DATABASE_URL: tlsUrl, PGSSLMODE: 'verify-full', PGSSLROOTCERT: certs.caCert, PATH: process.env.PATH };
      const result = await executeAudienceGeneration(automation, { env, asOf: AS_OF, pythonPath: python, outputDir: tmp(version), logger: quiet });
      expect({ version, audienceSize: result.audienceSize }).toEqual({ version, audienceSize: expect.any(Number) });
      expect(result.audienceSize).toBeGreaterThan(0);
      const refused = { ...env, PGSSLROOTCERT: certs.otherCaCert };
      await expect(executeAudienceGeneration(automation, { env: refused, asOf: AS_OF, pythonPath: python, outputDir: tmp(version), logger: quiet })).rejects.toThrow(
        /certificate/,
      );
    }
  });

  test('the CLI takes the same URL', () => {
    const url = withParams(tlsUrl, { sslmode: 'verify-full', sslrootcert: certs.caCert });
    const out = tmp('cli');
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.DATABASE_URL;
    const stdout = execFileSync(process.execPath, [path.join(ROOT, 'bin', 'audience-engine.js'), 'generate', 'layer3-behavior', '--database-url', url, '--as-of', AS_OF, '--out', out], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    expect(stdout).not.toContain(PASSWORD);
    expect(fs.readdirSync(out).filter((name) => name.endsWith('.csv'))).toHaveLength(6);
  });
});

describe('a refused connection names its cause', () => {
  test('verify-full against a certificate for another host name names both', async () => {
    const { code, message } = failureOf(await run(withParams(wrongHostUrl, { sslmode: 'verify-full', sslrootcert: certs.caCert })));
    expect(code).toBe('DATABASE_UNREACHABLE');
    expect(message).toContain('not valid for the host name 127.0.0.1');
    expect(message).toContain('it names db.example.com');
  });

  test('verify-full with another CA names the sslrootcert file', async () => {
    const { code, message } = failureOf(await run(withParams(tlsUrl, { sslmode: 'verify-full', sslrootcert: certs.otherCaCert })));
    expect(code).toBe('DATABASE_UNREACHABLE');
    expect(message).toContain(`the server's certificate is not trusted by sslrootcert (${certs.otherCaCert})`);
  });

  test('sslmode=disable against a TLS-only server says the server wants TLS', async () => {
    const { code, message } = failureOf(await run(withParams(tlsUrl, { sslmode: 'disable' })));
    expect(code).toBe('DATABASE_UNREACHABLE');
    expect(message).toContain('the server accepts only TLS connections from this client, but sslmode=disable');
    expect(message).not.toContain('password');
  });

  test('sslmode=require against a server without TLS says the server has none', async () => {
    const { code, message } = failureOf(await run(withParams(plainUrl, { sslmode: 'require' })));
    expect(code).toBe('DATABASE_UNREACHABLE');
    expect(message).toContain('the server does not accept TLS connections, but sslmode=require requires TLS');
  });

  test('a missing client certificate, and one from a CA the server does not trust', async () => {
    const asCertUser = (params: Record<string, string>) => {
      const url = new URL(withParams(tlsUrl, { sslmode: 'verify-full', sslrootcert: certs.caCert, ...params }));
      url.username = servers.certUser;
      url.password = '';
      return url.toString();
    };
    const missing = failureOf(await run(asCertUser({})));
    expect(missing.code).toBe('DATABASE_UNREACHABLE');
    expect(missing.message).toContain('the server requires a client certificate');
    const untrusted = failureOf(await run(asCertUser({ sslcert: certs.otherClientCert, sslkey: certs.otherClientKey })));
    expect(untrusted.code).toBe('DATABASE_UNREACHABLE');
    expect(untrusted.message).toContain(`the server refused the client certificate sslcert (${certs.otherClientCert})`);
  });

  test('missing files name the option and the path; an encrypted key is refused without showing it', async () => {
    const missing = path.join(tmp('missing'), 'rds-global-bundle.pem');
    const root = failureOf(await run(withParams(tlsUrl, { sslmode: 'verify-full', sslrootcert: missing })));
    expect(root).toEqual({ code: 'INVALID_OPTION', message: `sslrootcert in the database URL: ${missing} does not exist` });
    const key = failureOf(await run(withParams(tlsUrl, { sslmode: 'require', sslcert: certs.clientCert, sslkey: missing })));
    expect(key).toEqual({ code: 'INVALID_OPTION', message: `sslkey in the database URL: ${missing} does not exist` });
    const encrypted = failureOf(
      await run(withParams(tlsUrl, { sslmode: 'require', sslcert: certs.clientCert, sslkey: certs.clientKeyEncrypted, sslpassword: 'secret' })),
    );
    expect(encrypted.code).toBe('INVALID_OPTION');
    expect(encrypted.message).toContain(`${certs.clientKeyEncrypted} is encrypted with a passphrase; sslpassword is not supported`);
    expect(encrypted.message).not.toContain('secret');
  });

  test('verify-full without any root certificate says how to give one', async () => {
    const { code, message } = failureOf(await run(withParams(tlsUrl, { sslmode: 'verify-full' })));
    expect(code).toBe('INVALID_OPTION');
    expect(message).toContain('no trusted root certificate was given: set sslrootcert');
    expect(message).toContain('sslrootcert=system');
  });

  test('a wrong password is the one case that says to check the user and password', async () => {
    const url = new URL(withParams(tlsUrl, { sslmode: 'verify-full', sslrootcert: certs.caCert }));
    url.password = 'not-the-password';
    const { code, message } = failureOf(await run(url.toString()));
    expect(code).toBe('DATABASE_UNREACHABLE');
    expect(message).toContain('check the user and password');
    expect(message).not.toContain('not-the-password');
  });
});
