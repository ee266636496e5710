// Database faults, on a server of its own that the test stops and restarts:
// down at the start, down in the middle of a run, a full pool, and no leaked
// connections after 200 runs with failures mixed in; the same faults for Layer 5. Run with
// `npm run test:faults`.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as readline from 'node:readline';

import { Client } from 'pg';

import { generateLayer3, generateLayer5, shutdown } from '../ts/index';
import type { GeneratorOptions, GeneratorResult } from '../ts/types';
import { Fixture, id, ROOT } from './helpers/db';
import { scratchDirs } from './helpers/scratch';

/** A PostgreSQL server of this file's own, in a child process that stops and starts it on command. */
class ControlledServer {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly url: string,
  ) {}

  static async start(): Promise<ControlledServer> {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'pg-server.js'), '--control'], { cwd: ROOT });
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error('the controlled PostgreSQL did not start');
    return new ControlledServer(child, lines, first.value);
  }

  private async command(name: 'stop' | 'start' | 'destroy'): Promise<void> {
    this.child.stdin.write(`${name}\n`);
    const answer = await this.lines.next();
    if (answer.value !== 'ok') throw new Error(`${name}: ${answer.value}`);
  }

  stop = () => this.command('stop');
  restart = () => this.command('start');
  destroy = () => this.command('destroy');
}

const AS_OF = '2026-11-28T12:00:00.000Z';
let server: ControlledServer;
let url: string;
let password: string;
const tally = { cases: 0, faultsSurvived: 0, filesLost: 0 };

const tempDir = scratchDirs('faults');

function run(options: GeneratorOptions = {}): Promise<GeneratorResult> {
  return generateLayer3({ databaseUrl: url, asOf: AS_OF, acquireTimeoutMs: 3000, onLog: () => {}, ...options });
}

/** Every fault: a clear failure, no file, no temporary file, no credentials. */
function expectCleanFailure(result: GeneratorResult, dir: string, codes: string[]): void {
  tally.cases += 1;
  expect(result.success).toBe(false);
  expect(codes).toContain(result.errorCode);
  expect(result.error).toBeTruthy();
  expect(JSON.stringify(result)).not.toContain(password);
  const left = fs.readdirSync(dir);
  tally.filesLost += left.length;
  expect(left).toEqual([]);
  tally.faultsSurvived += 1;
}

async function expectWorks(): Promise<void> {
  const dir = tempDir();
  const result = await run({ outputDir: dir });
  expect(result.error).toBeUndefined();
  expect(result.audienceSize).toBe(3);
  expect(fs.readdirSync(dir)).toHaveLength(7);
}

async function lockTable(table: 'offers' | 'users'): Promise<Client> {
  const client = new Client({ connectionString: url });
  client.on('error', () => {}); // the server may go away under it
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return client;
}

const lockOffers = () => lockTable('offers');

async function engineConnections(): Promise<{ state: string }[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT state FROM pg_stat_activity WHERE application_name = 'audience-engine' AND datname = current_database()",
    );
    return rows;
  } finally {
    await client.end();
  }
}

async function waitForWaiting(n: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const active = (await engineConnections()).filter((c) => c.state === 'active').length;
    if (active >= n) return;
    if (Date.now() > deadline) throw new Error(`expected ${n} engine queries waiting on the lock, saw ${active}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  server = await ControlledServer.start();
  url = server.url;
  password = new URL(url).password;
  const { fixture: f, close } = await Fixture.open(url);
  await f.user({ id: id(900) });
  await f.product('Fault Runner', [{ id: id(500) }]);
  await f.stock(id(900), id(500), 3);
  for (const n of [1, 2, 3]) {
    await f.user({ id: id(n) });
    await f.offer(id(n), new Date('2026-11-27T10:00:00Z'), [[id(1000 + n), id(500)]]);
  }
  await close();
}, 120_000);

afterAll(async () => {
  await shutdown();
  await server?.destroy();
  process.stdout.write(`fault suite: ${tally.cases} fault cases, ${tally.faultsSurvived} survived, ${tally.filesLost} files left behind\n`);
});

it('the database is down when a run starts; the next run works once it is back', async () => {
  await expectWorks();
  await server.stop();
  const dir = tempDir();
  expectCleanFailure(await run({ outputDir: dir, acquireTimeoutMs: 1500 }), dir, ['DATABASE_UNREACHABLE']);
  await server.restart();
  await expectWorks();
});

it('the database goes down in the middle of a run', async () => {
  const lock = await lockOffers();
  const dir = tempDir();
  const pending = run({ outputDir: dir });
  await waitForWaiting(1);
  await server.stop();
  expectCleanFailure(await pending, dir, ['DATABASE_UNREACHABLE', 'DATABASE_ERROR']);
  await lock.end().catch(() => undefined);
  await server.restart();
  await expectWorks();
});

it('the pool cannot get a connection within the acquire timeout', async () => {
  const lock = await lockOffers();
  // A run holds 3 of the pool's 9 run connections: 3 runs waiting on the lock fill it.
  const busyDirs = Array.from({ length: 3 }, tempDir);
  const busy = busyDirs.map((dir) => run({ outputDir: dir }));
  await waitForWaiting(3);
  const dir = tempDir();
  const result = await run({ outputDir: dir, acquireTimeoutMs: 500 });
  expectCleanFailure(result, dir, ['DATABASE_UNREACHABLE']);
  expect(result.error).toMatch(/no pooled connection within acquireTimeoutMs \(500 ms\): the pool is busy with other runs/);
  await lock.query('ROLLBACK');
  await lock.end();
  for (const r of await Promise.all(busy)) expect(r.success).toBe(true);
});

it('200 runs with failures mixed in leak no connection', async () => {
  let failures = 0;
  for (let i = 0; i < 200; i += 1) {
    const dir = tempDir();
    let result: GeneratorResult;
    if (i % 5 === 1) result = await run({ outputDir: dir, lookbackHours: -1 });
    else if (i % 5 === 2) result = await run({ outputDir: dir, signal: AbortSignal.abort() });
    else if (i % 5 === 3) result = await run({ outputDir: dir, databaseUrl: url.replace(password, 'wrong-password') });
    else result = await run({ outputDir: dir, dryRun: i % 2 === 0 });
    if (!result.success) {
      failures += 1;
      expectCleanFailure(result, dir, ['INVALID_OPTION', 'CANCELLED', 'DATABASE_UNREACHABLE']);
    }
  }
  expect(failures).toBe(120);
  const connections = await engineConnections();
  expect(connections.length).toBeLessThanOrEqual(10); // the pool's limit (db.rs MAX_CONNECTIONS)
  for (const c of connections) expect(c.state).toBe('idle');
});

describe('Layer 5 under the same faults', () => {
  // The fixture's users were created when it loaded: a day later they are in the base set.
  const asOf = new Date(Date.now() + 24 * 3600_000).toISOString();
  const run5 = (options: Record<string, unknown> = {}) =>
    generateLayer5({ databaseUrl: url, asOf, acquireTimeoutMs: 3000, onLog: () => {}, ...options }) as Promise<GeneratorResult>;
  const works = async () => {
    const dir = tempDir();
    const result = await run5({ outputDir: dir });
    expect(result.error).toBeUndefined();
    expect(result.audienceSize).toBe(4);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.csv')).length).toBeGreaterThanOrEqual(2);
  };

  it('down at the start, down in the middle, cancelled in the middle: clean failures, then it works', async () => {
    await works();
    await server.stop();
    let dir = tempDir();
    expectCleanFailure(await run5({ outputDir: dir, acquireTimeoutMs: 1500 }), dir, ['DATABASE_UNREACHABLE']);
    await server.restart();
    await works();

    let lock = await lockTable('users');
    dir = tempDir();
    let pending = run5({ outputDir: dir });
    await waitForWaiting(1);
    await server.stop();
    expectCleanFailure(await pending, dir, ['DATABASE_UNREACHABLE', 'DATABASE_ERROR']);
    await lock.end().catch(() => undefined);
    await server.restart();

    lock = await lockTable('users');
    dir = tempDir();
    const controller = new AbortController();
    pending = run5({ outputDir: dir, signal: controller.signal });
    await waitForWaiting(1);
    controller.abort();
    expectCleanFailure(await pending, dir, ['CANCELLED']);
    expect((await engineConnections()).filter((c) => c.state === 'active')).toEqual([]);
    await lock.query('ROLLBACK');
    await lock.end();
    await works();
  });
});
