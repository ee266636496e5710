// Bad input: every case resolves { success: false } with a stable code and a message that
// names the option, the value and what is allowed; nothing is written; no credentials leak.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { explainUser, generate, generateLayer3, listGenerators, shutdown } from '../ts/index';
import type { ErrorCode, GeneratorOptions } from '../ts/types';
import { adminUrl, createTestDatabase } from './helpers/db';
import { scratchDirs } from './helpers/scratch';

const PASSWORD = new URL(adminUrl()).password;
const id0 = '00000000-0000-4000-8000-000000000000';
let url: string;
let out: string;
let aFile: string;
const tmp = scratchDirs('validation');
let refusedPort: number;

beforeAll(async () => {
  url = await createTestDatabase('validation');
  out = tmp('out');
  aFile = path.join(tmp('file'), 'plain-file');
  fs.writeFileSync(aFile, 'not a directory');
  refusedPort = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
});

afterAll(async () => {
  await shutdown();
});

function withUrl(change: (u: URL) => void): string {
  const u = new URL(url);
  change(u);
  return u.toString();
}

type Case = [name: string, options: () => unknown, code: ErrorCode, message: RegExp];

const cases: Case[] = [
  ['lookbackHours as a string', () => ({ lookbackHours: '48' }), 'INVALID_OPTION', /^lookbackHours must be a finite number of hours from 0 to 87600 \(fractions allowed\), got "48"$/],
  ['lookbackHours as an object', () => ({ lookbackHours: { hours: 48 } }), 'INVALID_OPTION', /^lookbackHours must be .* got an object$/],
  ['lookbackHours as an array', () => ({ lookbackHours: [48] }), 'INVALID_OPTION', /^lookbackHours must be .* got an array$/],
  ['lookbackHours null', () => ({ lookbackHours: null }), 'INVALID_OPTION', /^lookbackHours must be .* got null$/],
  ['lookbackHours NaN', () => ({ lookbackHours: NaN }), 'INVALID_OPTION', /^lookbackHours must be a finite number .* got NaN$/],
  ['lookbackHours Infinity', () => ({ lookbackHours: Infinity }), 'INVALID_OPTION', /^lookbackHours must be a finite number .* got Infinity$/],
  ['lookbackHours boolean', () => ({ lookbackHours: true }), 'INVALID_OPTION', /^lookbackHours must be .* got true$/],
  ['lookbackHours bigint', () => ({ lookbackHours: BigInt(48) }), 'INVALID_OPTION', /^lookbackHours must be .* got 48n$/],
  ['lookbackHours past any timestamp', () => ({ lookbackHours: 1e12 }), 'INVALID_OPTION', /^lookbackHours must be .* from 0 to 87600 .* got 1000000000000$/],
  ['coolingHours negative', () => ({ coolingHours: -1 }), 'INVALID_OPTION', /^coolingHours must be a finite number of hours from 0 .* got -1$/],
  ['coolingHours -Infinity', () => ({ coolingHours: -Infinity }), 'INVALID_OPTION', /^coolingHours must be .* got -Infinity$/],
  ['coolingHours equal to lookbackHours', () => ({ lookbackHours: 12, coolingHours: 12 }), 'INVALID_OPTION', /^coolingHours must be less than lookbackHours, got coolingHours 12 and lookbackHours 12/],
  ['coolingHours above lookbackHours', () => ({ lookbackHours: 6, coolingHours: 24 }), 'INVALID_OPTION', /^coolingHours must be less than lookbackHours, got coolingHours 24 and lookbackHours 6/],
  ['asOf unparseable', () => ({ asOf: 'yesterday' }), 'INVALID_OPTION', /^asOf must be an ISO-8601 date-time with Z or an offset, such as .*, got "yesterday"$/],
  ['asOf without an offset', () => ({ asOf: '2026-11-28T06:00:00' }), 'INVALID_OPTION', /^asOf must be an ISO-8601 .* got "2026-11-28T06:00:00"$/],
  ['asOf an invalid Date', () => ({ asOf: new Date('nope') }), 'INVALID_OPTION', /^asOf must be .* got an invalid Date$/],
  ['asOf out of range', () => ({ asOf: '0099-01-01T00:00:00Z' }), 'INVALID_OPTION', /^asOf must be between the years 1900 and 9999, got "0099-01-01T00:00:00Z"$/],
  ['asOf as a number', () => ({ asOf: 1764300000000 }), 'INVALID_OPTION', /^asOf must be a Date or an ISO-8601 .* got 1764300000000$/],
  ['outputDir empty', () => ({ outputDir: '' }), 'INVALID_OPTION', /^outputDir must be a non-empty directory path string, got ""$/],
  ['outputDir a number', () => ({ outputDir: 42 }), 'INVALID_OPTION', /^outputDir must be a non-empty directory path string, got 42$/],
  ['outputDir is a file', () => ({ outputDir: aFile }), 'OUTPUT_DIR', /^outputDir ".*plain-file" exists and is not a directory; pass a directory path$/],
  ['outputDir cannot be created', () => ({ outputDir: '/proc/audience-engine/out' }), 'OUTPUT_DIR', /^outputDir "\/proc\/audience-engine\/out" could not be created: /],
  ['dryRun a string', () => ({ dryRun: 'yes' }), 'INVALID_OPTION', /^dryRun must be true or false, got "yes"$/],
  ['minInventoryCount negative', () => ({ minInventoryCount: -1 }), 'INVALID_OPTION', /^minInventoryCount must be a whole number from 0 to 2147483647, got -1$/],
  ['minInventoryCount fractional', () => ({ minInventoryCount: 2.5 }), 'INVALID_OPTION', /^minInventoryCount must be a whole number .* got 2.5$/],
  ['minWishlistCount a string', () => ({ minWishlistCount: '2' }), 'INVALID_OPTION', /^minWishlistCount must be a whole number .* got "2"$/],
  ['minWishlistCount NaN', () => ({ minWishlistCount: NaN }), 'INVALID_OPTION', /^minWishlistCount must be a whole number .* got NaN$/],
  ['statementTimeoutMs zero', () => ({ statementTimeoutMs: 0 }), 'INVALID_OPTION', /^statementTimeoutMs must be a whole number of milliseconds from 1 to 86400000, got 0$/],
  ['automationId an object', () => ({ automationId: { id: 1 } }), 'INVALID_OPTION', /^automationId must be a string of at most 200 characters or a finite number, got an object$/],
  ['unknown option name', () => ({ lookback: 48 }), 'INVALID_OPTION', /^unknown option "lookback"; the options are: lookbackHours, coolingHours, minInventoryCount, minWishlistCount, rules, outputDir, dryRun, automationId, asOf, databaseUrl, statementTimeoutMs, acquireTimeoutMs, onLog, signal$/],
  ['rules not v1 or v2', () => ({ rules: 'production' }), 'INVALID_OPTION', /^rules must be 'v2' \(the contract, the default\) or 'v1' \(what the production script writes\), got "production"$/],
  ['onLog not a function', () => ({ onLog: 'console' }), 'INVALID_OPTION', /^onLog must be a function, got "console"$/],
  ['signal not an AbortSignal', () => ({ signal: {} }), 'INVALID_OPTION', /^signal must be an AbortSignal, got an object$/],
  ['options not an object', () => 'lookbackHours=48', 'INVALID_OPTION', /^options must be an object, got "lookbackHours=48"$/],
  ['databaseUrl empty', () => ({ databaseUrl: '' }), 'NO_DATABASE_URL', /^databaseUrl is empty: pass a postgres:\/\/ URL or set the DATABASE_URL environment variable$/],
  ['databaseUrl another scheme', () => ({ databaseUrl: `mysql://root:${PASSWORD}@localhost/db` }), 'INVALID_OPTION', /^databaseUrl is not a valid PostgreSQL URL: expected postgres:\/\/user:password@host:port\/database/],
  ['databaseUrl malformed', () => ({ databaseUrl: `postgres://user:${PASSWORD}@:::/x y` }), 'INVALID_OPTION', /^databaseUrl is not a valid PostgreSQL URL/],
  ['databaseUrl a number', () => ({ databaseUrl: 5432 }), 'INVALID_OPTION', /^databaseUrl must be a postgres:\/\/ or postgresql:\/\/ URL string, got a number$/],
  ['wrong password', () => ({ databaseUrl: withUrl((u) => (u.password = 'wrong-secret')) }), 'DATABASE_UNREACHABLE', /the database refused the login \(SQLSTATE 28P01\): check the user and password of the database URL$/],
  ['a host that refuses connections', () => ({ databaseUrl: withUrl((u) => (u.port = String(refusedPort))), acquireTimeoutMs: 1000 }), 'DATABASE_UNREACHABLE', /^connecting to the database: the database could not be reached \(Connection refused/],
  ['a database that does not exist', () => ({ databaseUrl: withUrl((u) => (u.pathname = '/no_such_db')) }), 'DATABASE_UNREACHABLE', /the database named in the database URL does not exist \(SQLSTATE 3D000\)$/],
];

describe('bad options resolve success: false with a message that names them', () => {
  it.each(cases)('%s', async (_name, options, code, message) => {
    const dir = fs.mkdtempSync(path.join(out, 'case-'));
    const given = options();
    const opts =
      given && typeof given === 'object' ? { databaseUrl: url, outputDir: dir, acquireTimeoutMs: 5000, onLog: () => {}, ...given } : given;
    const result = await generateLayer3(opts as GeneratorOptions);
    expect(result).toMatchObject({ success: false, errorCode: code, csvFiles: [], audienceSize: 0 });
    expect(result.error).toMatch(message);
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
    expect(JSON.stringify(result)).not.toContain('wrong-secret');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('options that throw when read resolve INVALID_OPTION, never reject', async () => {
    const throwing = {
      get lookbackHours(): number {
        throw new Error('boom');
      },
    };
    expect(await generateLayer3(throwing)).toMatchObject({ success: false, errorCode: 'INVALID_OPTION', error: 'the options could not be read: boom' });
    expect(await explainUser(id0, throwing)).toMatchObject({ success: false, errorCode: 'INVALID_OPTION', error: 'the options could not be read: boom' });
  });

  it('counts at least 25 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });
});

describe('a database URL passed where it does not belong', () => {
  const leaked = 'postgres://reader:hunter2@db.example:5432/marketplace';

  it('is echoed without its password', async () => {
    const asName = await generate(leaked, { onLog: () => {} });
    expect(asName).toMatchObject({ success: false, errorCode: 'UNKNOWN_GENERATOR' });
    expect(asName.error).toContain('"postgres://reader:***@db.example:5432/marketplace"');
    const asValue = await generateLayer3({ databaseUrl: url, asOf: leaked, onLog: () => {} });
    expect(asValue.error).toContain('got "postgres://reader:***@db.example:5432/marketplace"');
    const messages: string[] = [];
    const asUser = await explainUser(leaked, { databaseUrl: url, onLog: (e) => messages.push(e.message) });
    expect(asUser).toMatchObject({ success: false, errorCode: 'INVALID_OPTION', userId: 'postgres://reader:***@db.example:5432/marketplace' });
    for (const text of [asName, asValue, asUser].map((r) => JSON.stringify(r)).concat(messages)) {
      expect(text).not.toContain('hunter2');
    }
  });

  it('is hidden before a long value is cut, so a long URL cannot push its password past it', async () => {
    const password = 'Zk3v9QpL2mX8rT4wY6uB1nC5dF7gH0jKaS2dF4gH6jK8lZ1xC3vB5nM7qW9eR0tY';
    const long = `postgres://audience_engine_readonly:${password}@db.internal:5432/market`;
    const results = [
      await generate(long, { onLog: () => {} }),
      await generateLayer3({ databaseUrl: url, asOf: long, onLog: () => {} }),
      await generateLayer3({ databaseUrl: url, signal: long as unknown as AbortSignal, onLog: () => {} }),
      await explainUser(long, { databaseUrl: url, onLog: () => {} }),
    ];
    for (const result of results) {
      expect(result.success).toBe(false);
      expect(JSON.stringify(result)).not.toContain(password.slice(0, 12));
      expect(JSON.stringify(result)).toContain('audience_engine_readonly:***@');
    }
  });
});

describe('directories a run creates', () => {
  it('are removed again when the run fails', async () => {
    const parent = tmp('created');
    const result = await generateLayer3({
      databaseUrl: withUrl((u) => (u.port = String(refusedPort))),
      outputDir: path.join(parent, 'a', 'b'),
      acquireTimeoutMs: 1000,
      onLog: () => {},
    });
    expect(result).toMatchObject({ success: false, errorCode: 'DATABASE_UNREACHABLE' });
    expect(fs.readdirSync(parent)).toEqual([]);
  });
});

describe('the database URL', () => {
  const saved = process.env.DATABASE_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  });

  it('is read from DATABASE_URL at call time when the option is absent', async () => {
    process.env.DATABASE_URL = url;
    const result = await generateLayer3({ dryRun: true, asOf: '2026-01-01T00:00:00Z', onLog: () => {} });
    expect(result).toMatchObject({ success: true, metadata: { reason: 'no_activity' } });
  });

  it('is required', async () => {
    delete process.env.DATABASE_URL;
    const result = await generateLayer3({ dryRun: true, onLog: () => {} });
    expect(result).toMatchObject({ success: false, errorCode: 'NO_DATABASE_URL' });
    expect(result.error).toBe('no database URL: pass the databaseUrl option or set the DATABASE_URL environment variable');
  });

  it('never appears in logs, even when the login fails', async () => {
    const messages: string[] = [];
    const bad = withUrl((u) => (u.password = 'wrong-secret'));
    await generateLayer3({ databaseUrl: bad, dryRun: true, onLog: (e) => messages.push(e.message) });
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.join('\n')).not.toContain('wrong-secret');
  });
});

describe('the registry', () => {
  it('lists both generators with their legacy ids and script parameters', async () => {
    expect(await listGenerators()).toEqual([
      {
        name: 'layer3-behavior',
        layerId: 3,
        description: expect.stringContaining('Behavior response'),
        legacyScriptIds: ['generate_layer_3_push_csvs'],
        options: ['lookbackHours', 'coolingHours', 'minInventoryCount', 'minWishlistCount', 'rules'],
        parameters: [
          { name: 'lookback_hours', option: 'lookbackHours', default: 48 },
          { name: 'cooling_hours', option: 'coolingHours', default: 12 },
        ],
      },
      {
        name: 'layer5-waterfall',
        layerId: 5,
        description: expect.stringContaining('New-user waterfall'),
        legacyScriptIds: ['generate_new_user_waterfall'],
        options: ['minHours', 'maxDays'],
        parameters: [
          { name: 'min_hours', option: 'minHours', default: 12 },
          { name: 'max_days', option: 'maxDays', default: 14 },
        ],
      },
    ]);
  });

  it.each([
    ['layer3-behavior', 'layer3-behavior'],
    ['generate_layer_3_push_csvs', 'layer3-behavior'],
    ['layer5-waterfall', 'layer5-waterfall'],
    ['generate_new_user_waterfall', 'layer5-waterfall'],
  ])('finds %s', async (name, generator) => {
    const result = await generate(name, { databaseUrl: url, dryRun: true, asOf: '2026-01-01T00:00:00Z', onLog: () => {} });
    expect(result).toMatchObject({ success: true, metadata: { generator } });
  });

  it("refuses the other generator's options, naming its own", async () => {
    const result = await generate('layer5-waterfall', { databaseUrl: url, lookbackHours: 48, onLog: () => {} } as never);
    expect(result).toMatchObject({ success: false, errorCode: 'INVALID_OPTION' });
    expect(result.error).toBe(
      'unknown option "lookbackHours"; the options are: minHours, maxDays, outputDir, dryRun, automationId, asOf, databaseUrl, statementTimeoutMs, acquireTimeoutMs, onLog, signal',
    );
    const days = await generate('layer5-waterfall', { databaseUrl: url, maxDays: -1, onLog: () => {} });
    expect(days.error).toBe('maxDays must be a finite number of days above 0 and at most 3650 (fractions allowed), got -1');
  });

  it('refuses an unknown name and lists the known ones', async () => {
    const result = await generate('layer9-magic', { databaseUrl: url, onLog: () => {} });
    expect(result).toMatchObject({ success: false, errorCode: 'UNKNOWN_GENERATOR' });
    expect(result.error).toBe(
      'unknown generator "layer9-magic"; the known generators are: layer3-behavior (legacy id generate_layer_3_push_csvs); layer5-waterfall (legacy id generate_new_user_waterfall)',
    );
  });
});
