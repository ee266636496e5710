// Through a real PgBouncer in transaction mode (setup/connection-servers.js), run after run:
// each transaction may land on another server connection, so the run's settings must hold
// inside each transaction and no prepared statement may outlive one. The database's own
// defaults (TimeZone, DateStyle) are not the contract's, so a setting made once per client
// connection would show in the files.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { compareEngines } from '../ts/compare';
import { explainUser, generate, shutdown } from '../ts/index';
import { connectionServers, filesOf } from './helpers/connections';
import { createTestDatabase, ROOT, urlFor, withClient } from './helpers/db';
import { AS_OF, loadFixture } from './helpers/layer3-fixture';
import { scratchDirs } from './helpers/scratch';

const servers = connectionServers();
const tmp = scratchDirs('pooler');
const RUNS = 20;

if (!servers.pgbouncerUrl) {
  // Plainly, in the test output too: these tests did not run.
  console.warn(`pooler.test.ts: SKIPPED, ${servers.pgbouncerSkipped}`);
}
const describeWithPgBouncer = servers.pgbouncerUrl ? describe : describe.skip;

describeWithPgBouncer('through PgBouncer in transaction mode', () => {
  let directUrl: string;
  let pooledUrl: string;
  let direct: Record<string, string>;

  const run = (databaseUrl: string) =>
    generate('layer3-behavior', { databaseUrl, asOf: AS_OF, outputDir: tmp('out'), onLog: () => undefined });

  beforeAll(async () => {
    // The timestamptz variant: TimeZone then changes both lastActive's text and the window.
    directUrl = await createTestDatabase('pooler', 'alternate');
    await loadFixture(directUrl);
    const database = new URL(directUrl).pathname.slice(1);
    await withClient(directUrl, async (client) => {
      await client.query(`ALTER DATABASE ${client.escapeIdentifier(database)} SET TimeZone = 'America/New_York'`);
      await client.query(`ALTER DATABASE ${client.escapeIdentifier(database)} SET DateStyle = 'SQL, DMY'`);
    });
    pooledUrl = urlFor(database, servers.pgbouncerUrl!);
    direct = filesOf(await run(directUrl));
  }, 60_000);

  afterAll(async () => {
    await shutdown();
  });

  test('the database really has other defaults, and the files follow the contract regardless', async () => {
    const defaults = await withClient(directUrl, (client) => client.query('SELECT current_setting($1) AS tz, current_setting($2) AS ds', ['TimeZone', 'DateStyle']));
    expect(defaults.rows[0]).toEqual({ tz: 'America/New_York', ds: 'SQL, DMY' });
    // lastActive is PostgreSQL's text of a timestamptz under TimeZone UTC and DateStyle ISO.
    const lastActive = Object.entries(direct)
      .filter(([kind]) => !kind.endsWith('TEST'))
      .flatMap(([, text]) => text.split('\n').slice(1))
      .filter((line) => /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(line));
    expect(lastActive.length).toBeGreaterThan(0);
    for (const line of lastActive) expect(line).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00/);
  });

  test(`${RUNS} consecutive runs all succeed with the same bytes as a direct connection`, async () => {
    for (let i = 0; i < RUNS; i += 1) {
      const result = await run(pooledUrl);
      expect({ run: i, success: result.success, error: result.error }).toEqual({ run: i, success: true, error: undefined });
      expect(filesOf(result)).toEqual(direct);
    }
  }, 120_000);

  test('two runs at once, and explainUser, through the pooler', async () => {
    const [a, b] = await Promise.all([run(pooledUrl), run(pooledUrl)]);
    expect(filesOf(a)).toEqual(direct);
    expect(filesOf(b)).toEqual(direct);
    const userId = '00000000-0000-4000-8000-000000000001';
    const [pooled, straight] = await Promise.all([
      explainUser(userId, { databaseUrl: pooledUrl, asOf: AS_OF, onLog: () => undefined }),
      explainUser(userId, { databaseUrl: directUrl, asOf: AS_OF, onLog: () => undefined }),
    ]);
    expect(pooled.success).toBe(true);
    expect(pooled).toEqual(straight);
  });

  test('compare: V1 (psycopg) and V2 through the pooler write the same files', async () => {
    const python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
    const report = await compareEngines({ databaseUrl: pooledUrl, asOf: AS_OF, rules: 'v2', pythonPath: python, env: {}, outDir: tmp('compare') });
    expect(report.same).toBe(true);
    expect(report.v1AudienceSize).toBeGreaterThan(0);
  });

  test('cancelling a run behind the pooler cancels its query', async () => {
    const controller = new AbortController();
    const locker = await withClient(directUrl, async (client) => {
      await client.query('BEGIN');
      await client.query('LOCK TABLE offers IN ACCESS EXCLUSIVE MODE');
      const pending = generate('layer3-behavior', { databaseUrl: pooledUrl, asOf: AS_OF, dryRun: true, signal: controller.signal, onLog: () => undefined });
      await new Promise((resolve) => setTimeout(resolve, 500));
      controller.abort();
      const result = await pending;
      const waiting = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()");
      await client.query('ROLLBACK');
      return { result, waiting: waiting.rows[0].n };
    });
    expect(locker.result.errorCode).toBe('CANCELLED');
    expect(locker.waiting).toBe(0);
  });
});
