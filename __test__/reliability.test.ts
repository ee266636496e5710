// Reliability and security cases fast enough for every run of the suite: cancellation,
// timeouts, concurrency, hostile data, a SELECT-only role, file modes, process exit.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

import type { Client } from 'pg';

import { explainUser, generateLayer3, shutdown } from '../ts/index';
import { native } from '../ts/native';
import type { GeneratorOptions, GeneratorResult } from '../ts/types';
import { fileOf, readCsv, rowsOf } from './helpers/csv';
import { adminUrl, createTestDatabase, Fixture, id, ROOT, selectOnlyRole, withClient } from './helpers/db';
import { scratchDirs } from './helpers/scratch';

const AS_OF = '2026-11-28T12:00:00.000Z';
const IN_WINDOW = new Date('2026-11-27T10:00:00Z');
const PASSWORD = new URL(adminUrl()).password;

const HOSTILE_NAMES = [
  "Robert'); DROP TABLE users;--",
  '=CMD|" /C calc"!A0',
  '+SUM(1,2)',
  '-2+3',
  '@import',
  'quote " inside, and a comma',
  'multi\nline\r\nname',
  'tab\there\u0007bell\u001bescape',
  'x'.repeat(10_000),
  '👟 Ünïcödé 名前',
];

let url: string;

async function loadFixture(target: string): Promise<void> {
  const { fixture: f, close } = await Fixture.open(target);
  try {
    await f.user({ id: id(900), username: 'holder' });
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      const variant = id(600 + i);
      await f.product(name, [{ id: variant, indexCache: { mens_size: name.slice(0, 20) } }]);
      await f.stock(id(900), variant, 3);
      await f.user({ id: id(i + 1), username: name, firstName: name, sizes: [{ value: name }] });
      await f.offer(id(i + 1), new Date(IN_WINDOW.getTime() + i * 60_000), [[id(3000 + i), variant]]);
    }
  } finally {
    await close();
  }
}

const tempDir = scratchDirs('reliability');

function run(options: GeneratorOptions): Promise<GeneratorResult> {
  return generateLayer3({ databaseUrl: url, asOf: AS_OF, onLog: () => {}, ...options });
}

/** Holds an ACCESS EXCLUSIVE lock on `offers`, so the activity query waits on it. */
async function lockOffers(): Promise<{ client: Client; release: () => Promise<void> }> {
  const { Client: PgClient } = await import('pg');
  const client = new PgClient({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE offers IN ACCESS EXCLUSIVE MODE');
  return {
    client,
    release: async () => {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

async function engineQueries(): Promise<{ pid: number; state: string; query: string }[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query(
      "SELECT pid, state, query FROM pg_stat_activity WHERE application_name = 'audience-engine' AND datname = current_database()",
    );
    return rows;
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  url = await createTestDatabase('reliability');
  await loadFixture(url);
});

afterAll(async () => {
  await shutdown();
});

describe('hostile data', () => {
  it('comes out of the CSV exactly as stored', async () => {
    const out = tempDir('hostile');
    const result = await run({ outputDir: out });
    expect(result.success).toBe(true);
    const rows = rowsOf(result, 'offer_creators');
    expect(rows).toHaveLength(HOSTILE_NAMES.length);
    const byUser = new Map(rows.map((r) => [r.user_id, r]));
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      const r = byUser.get(id(i + 1));
      expect(r).toMatchObject({ username: name, firstName: name, usersize: name, product_name: name, relevant_variant_size: name.slice(0, 20) });
    }
    // The tables are intact: the SQL in the names was data, never code.
    const users = await withClient(url, async (c) => (await c.query('SELECT count(*)::int AS n FROM users')).rows[0].n);
    expect(users).toBe(HOSTILE_NAMES.length + 1);
  });

  it('creates files readable and writable by their owner only (0600)', async () => {
    const result = await run({ outputDir: tempDir('mode') });
    for (const file of result.csvFiles) expect(fs.statSync(file.path).mode & 0o777).toBe(0o600);
  });
});

describe('cancellation and timeouts', () => {
  it('an AbortSignal cancels the query on the server and writes nothing', async () => {
    const lock = await lockOffers();
    const out = tempDir('cancel');
    try {
      const controller = new AbortController();
      const pending = run({ outputDir: out, signal: controller.signal });
      await waitFor('the activity query to wait on the lock', async () => {
        const active = (await engineQueries()).find((q) => q.state === 'active' && q.query.includes('FROM offers'));
        return active;
      });
      controller.abort();
      const result = await pending;
      expect(result).toMatchObject({ success: false, errorCode: 'CANCELLED', csvFiles: [] });
      expect(result.error).toBe('the run was cancelled; no file was written');
      await waitFor('the query to be gone from the server', async () =>
        (await engineQueries()).some((q) => q.state === 'active' && q.query.includes('FROM offers')) ? undefined : true,
      );
      expect(fs.readdirSync(out)).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it('an AbortSignal cancels explainUser too, on the server', async () => {
    const lock = await lockOffers();
    try {
      const controller = new AbortController();
      const pending = explainUser(id(1), { databaseUrl: url, asOf: AS_OF, onLog: () => {}, signal: controller.signal });
      await waitFor('the explain query to wait on the lock', async () =>
        (await engineQueries()).find((q) => q.state === 'active' && q.query.includes('FROM offers')),
      );
      controller.abort();
      expect(await pending).toMatchObject({ success: false, errorCode: 'CANCELLED', error: 'the explanation was cancelled' });
      await waitFor('the query to be gone from the server', async () =>
        (await engineQueries()).some((q) => q.state === 'active' && q.query.includes('FROM offers')) ? undefined : true,
      );
    } finally {
      await lock.release();
    }
    const aborted = await explainUser(id(1), { databaseUrl: url, signal: AbortSignal.abort() });
    expect(aborted).toMatchObject({ success: false, errorCode: 'CANCELLED', error: 'the explanation was cancelled before it started' });
  });

  it('an abort right after the call still cancels: the run id is registered before the engine starts', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const { createServer } = await import('node:net');
    const silent = createServer((socket) => void sockets.add(socket)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const databaseUrl = `postgres://u:p@127.0.0.1:${(silent.address() as import('node:net').AddressInfo).port}/db`;
    try {
      for (let i = 0; i < 10; i += 1) {
        const controller = new AbortController();
        const options = { databaseUrl, acquireTimeoutMs: 20_000, onLog: () => {}, signal: controller.signal };
        const runs = [generateLayer3({ ...options, dryRun: true }), explainUser(id(1), options)];
        await Promise.resolve();
        controller.abort();
        for (const result of await Promise.all(runs)) expect(result.errorCode).toBe('CANCELLED');
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('an already aborted signal cancels before anything runs', async () => {
    const result = await run({ outputDir: tempDir('pre-cancel'), signal: AbortSignal.abort() });
    expect(result).toMatchObject({ success: false, errorCode: 'CANCELLED' });
  });

  it('a query past statementTimeoutMs fails with QUERY_TIMEOUT and writes nothing', async () => {
    const lock = await lockOffers();
    const out = tempDir('timeout');
    try {
      const result = await run({ outputDir: out, statementTimeoutMs: 300 });
      expect(result).toMatchObject({ success: false, errorCode: 'QUERY_TIMEOUT' });
      expect(result.error).toMatch(/exceeded the statement timeout \(statementTimeoutMs\)/);
      expect(fs.readdirSync(out)).toEqual([]);
    } finally {
      await lock.release();
    }
    const again = await run({ outputDir: out });
    expect(again.success).toBe(true);
  });
});

describe('concurrency', () => {
  it('8 runs at once into one directory: all succeed, 48 distinct complete files', async () => {
    const out = tempDir('concurrent');
    const results = await Promise.all(Array.from({ length: 8 }, () => run({ outputDir: out })));
    for (const r of results) expect(r.success).toBe(true);
    const paths = results.flatMap((r) => r.csvFiles.map((f) => f.path));
    expect(new Set(paths).size).toBe(48);
    expect(fs.readdirSync(out)).toHaveLength(56); // 6 CSVs and a manifest per run
    for (const r of results) {
      expect(readCsv(fileOf(r, 'offer_creators').path).rows).toHaveLength(HOSTILE_NAMES.length);
    }
  });
});

describe('least privilege', () => {
  it('runs under a role that may only SELECT the tables it reads', async () => {
    const readerUrl = await selectOnlyRole(url, 'audience_reader');
    const result = await generateLayer3({ databaseUrl: readerUrl, asOf: AS_OF, outputDir: tempDir('reader'), onLog: () => {} });
    expect(result.success).toBe(true);
    expect(result.audienceSize).toBe(HOSTILE_NAMES.length);
  });
});

describe('the host process', () => {
  it('shutdown() closes every pool, and the next run opens one again', async () => {
    await run({ outputDir: tempDir('pools'), dryRun: true });
    expect(native.nativeOpenPoolCount()).toBeGreaterThan(0);
    await shutdown();
    expect(native.nativeOpenPoolCount()).toBe(0);
    expect((await run({ outputDir: tempDir('pools'), dryRun: true })).success).toBe(true);
    expect(native.nativeOpenPoolCount()).toBe(1);
  });

  it('a throwing onLog callback does not break the run', async () => {
    const result = await run({
      outputDir: tempDir('throwing-log'),
      onLog: () => {
        throw new Error('logger down');
      },
    });
    expect(result.success).toBe(true);
  });

  function runScript(source: string): Promise<{ code: number | null; ms: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const started = Date.now();
      const child = spawn(process.execPath, ['-e', source], { cwd: ROOT, env: { ...process.env, TEST_URL: url } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, ms: Date.now() - started, stdout, stderr }));
    });
  }

  it.each([
    ['after shutdown()', 'await ae.shutdown();'],
    ['when the host forgets shutdown()', ''],
  ])('exits promptly %s', async (_label, tail) => {
    const out = tempDir('exit');
    const source = `
      const ae = require('./dist/index.js');
      (async () => {
        const r = await ae.generateLayer3({ databaseUrl: process.env.TEST_URL, asOf: '${AS_OF}', outputDir: ${JSON.stringify(out)}, onLog: () => {} });
        console.log(JSON.stringify({ success: r.success }));
        ${tail}
      })();`;
    const { code, ms, stdout, stderr } = await runScript(source);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({ success: true });
    expect(ms).toBeLessThan(15_000);
  });

  it('never shows the password in results or logs of a failed login', async () => {
    const bad = new URL(url);
    bad.password = 'not-the-password';
    const messages: string[] = [];
    const result = await generateLayer3({ databaseUrl: bad.toString(), onLog: (e) => messages.push(e.message) });
    const everything = JSON.stringify(result) + messages.join('\n');
    expect(everything).not.toContain('not-the-password');
    expect(everything).not.toContain(PASSWORD);
  });
});
