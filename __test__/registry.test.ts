// generatorRegistry (ts/registry.ts): the seed's registry over the engine. Lookups answer with
// plain values, so hosts written for a synchronous and for an async registry both work; the
// generators speak the seed's dialect (audience types, dry-run counts) over the engine's results.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { generate, generatorRegistry, listGenerators, shutdown } from '../ts/index';
import type { AudienceGenerator, LogEvent, RegistryGeneratorResult } from '../ts/index';
import { adminUrl, createTestDatabase, urlFor, withClient } from './helpers/db';
import { AS_OF, loadFixture } from './helpers/layer3-fixture';
import { scratchDirs } from './helpers/scratch';

const NAME = 'layer3-behavior';
const LEGACY_ID = 'generate_layer_3_push_csvs';
const quiet = { onLog: () => undefined };
const tmp = scratchDirs('registry');

/** Runs `fn` with `DATABASE_URL` set to `value` (or unset), as a host's environment would have it. */
async function withDatabaseUrl<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.DATABASE_URL;
  if (value === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
}

function layer3(): AudienceGenerator {
  const generator = generatorRegistry.get(NAME);
  if (!generator) throw new Error(`${NAME} is not registered`);
  return generator;
}

afterAll(async () => {
  await shutdown();
});

describe('lookups', () => {
  test('list() names each generator once, as listGenerators() does, and is no promise', async () => {
    const listed = generatorRegistry.list();
    expect(Array.isArray(listed)).toBe(true);
    expect(listed).toEqual((await listGenerators()).map((g) => g.name));
    expect(listed).toContain(NAME);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).not.toContain(LEGACY_ID);
  });

  test('has() is a boolean for the name, the legacy id and anything else', () => {
    expect(generatorRegistry.has(NAME)).toBe(true);
    expect(generatorRegistry.has(LEGACY_ID)).toBe(true);
    expect(generatorRegistry.has('layer5-waterfall-nope')).toBe(false);
    expect(generatorRegistry.has('Layer3-Behavior')).toBe(false); // exact, as the seed's Map
    expect(generatorRegistry.has('')).toBe(false);
    expect(generatorRegistry.has(42 as unknown as string)).toBe(false);
    expect(generatorRegistry.has(undefined as unknown as string)).toBe(false);
  });

  test('get() hands out one generator object for the name and the legacy id', () => {
    const generator = generatorRegistry.get(LEGACY_ID);
    expect(generator).toBe(generatorRegistry.get(NAME));
    expect(generator).toBe(generatorRegistry.get(LEGACY_ID));
    expect(generatorRegistry.get('nope')).toBeUndefined();
    expect(generator).toMatchObject({ name: NAME, layerId: 3, legacyScriptIds: [LEGACY_ID] });
    expect(typeof generator?.description).toBe('string');
    expect(generator?.description.length).toBeGreaterThan(0);
    expect(typeof generator?.generate).toBe('function');
    expect(typeof generator?.validate).toBe('function');
  });

  test('awaiting a lookup gives the same value: nothing is a thenable', async () => {
    const generator = generatorRegistry.get(NAME);
    expect('then' in (generator as object)).toBe(false);
    expect(await generatorRegistry.get(LEGACY_ID)).toBe(generator);
    expect(await generatorRegistry.get('nope')).toBeUndefined();
    expect(await generatorRegistry.has(LEGACY_ID)).toBe(true);
    expect(await generatorRegistry.has('nope')).toBe(false);
    expect(await generatorRegistry.list()).toEqual(generatorRegistry.list());
  });

  test('the two hosts route alike: the seed design without await, push-blaster as deployed with it', async () => {
    const seedRoute = (id: string) => (generatorRegistry.has(id) ? generatorRegistry.get(id)!.name : 'v1');
    const deployedRoute = async (id: string) => {
      if (!(await generatorRegistry.has(id))) return 'v1';
      const generator = await generatorRegistry.get(id);
      if (!generator) throw new Error(`no generator for ${id}`);
      return generator.name;
    };
    for (const id of [NAME, LEGACY_ID, 'generate_layer_2_push_csv']) {
      expect(await deployedRoute(id)).toBe(seedRoute(id));
    }
    expect(seedRoute(LEGACY_ID)).toBe(NAME);
    expect(seedRoute('generate_layer_2_push_csv')).toBe('v1');
  });

  test('the generator can be spied on, as the seed\'s tests do', async () => {
    const generator = layer3();
    const spy = jest.spyOn(generator, 'generate').mockResolvedValue({ success: true, csvFiles: [], audienceSize: 0, executionTimeMs: 0 });
    try {
      await generatorRegistry.get(LEGACY_ID)!.generate({ dryRun: true });
      expect(spy).toHaveBeenCalledWith({ dryRun: true });
    } finally {
      spy.mockRestore();
    }
  });
});

describe('generate() on the Layer 3 fixture', () => {
  let url: string;

  beforeAll(async () => {
    url = await createTestDatabase('registry');
    await loadFixture(url);
  });

  test("a dry run's metadata carries the seed's three counts beside the engine's", async () => {
    const dry = await layer3().generate({ databaseUrl: url, asOf: AS_OF, dryRun: true, ...quiet });
    expect(dry.error).toBeUndefined();
    expect(dry.success).toBe(true);
    expect(dry.csvFiles).toEqual([]);
    expect(dry.audienceSize).toBe(9);
    const metadata = dry.metadata!;
    expect({ offer_created: metadata.offer_created, closet_add: metadata.closet_add, wishlist_add: metadata.wishlist_add }).toEqual({
      offer_created: 3,
      closet_add: 3,
      wishlist_add: 3,
    });
    const audiences = metadata.counts.audiences!;
    expect(metadata.offer_created).toBe(audiences.offer_creators.afterFilter);
    expect(metadata.closet_add).toBe(audiences.closet_adders.afterFilter);
    expect(metadata.wishlist_add).toBe(audiences.wishlist_adders.afterFilter);
    expect(metadata.offer_created! + metadata.closet_add! + metadata.wishlist_add!).toBe(dry.audienceSize);

    // Everything else is the engine's own result, unchanged.
    const core = await generate(NAME, { databaseUrl: url, asOf: AS_OF, dryRun: true, ...quiet });
    const { offer_created: _o, closet_add: _c, wishlist_add: _w, ...engineMetadata } = metadata;
    const withoutTimings = (m: typeof engineMetadata) => ({ ...m, phasesMs: undefined, manifest: { ...m.manifest, runStartedAt: undefined } });
    expect(withoutTimings(engineMetadata)).toEqual(withoutTimings(core.metadata!));
    expect(metadata.dryRun).toBe(true);
    expect(metadata.manifest?.files).toHaveLength(6);
  });

  test("a real run through the legacy id: the seed's audience types; the engine's API keeps its own", async () => {
    const out = tmp('real');
    const result = await generatorRegistry.get(LEGACY_ID)!.generate({ databaseUrl: url, asOf: AS_OF, outputDir: out, automationId: 'auto-1', ...quiet });
    expect(result.error).toBeUndefined();
    expect(result.success).toBe(true);
    expect(result.csvFiles).toHaveLength(6);
    const byPrefix = Object.fromEntries(
      result.csvFiles.map((f) => [path.basename(f.path).replace(/_\d{8}T\d{6}(-\d+)?\.csv$/, ''), f.audienceType]),
    );
    expect(byPrefix).toEqual({
      'recent-offer-creators': 'offer_created',
      'recent-offer-creators_TEST': 'offer_created',
      'recent-closet-adders': 'closet_add',
      'recent-closet-adders_TEST': 'closet_add',
      'recent-wishlist-adders': 'wishlist_add',
      'recent-wishlist-adders_TEST': 'wishlist_add',
    });
    for (const file of result.csvFiles) {
      expect(path.isAbsolute(file.path)).toBe(true);
      expect(fs.existsSync(file.path)).toBe(true);
      expect(file.rowCount).toBe(file.isTestFile ? 1 : 3);
    }
    expect(result.audienceSize).toBe(9);
    expect(result.executionTimeMs).toBeGreaterThan(0);
    expect(fs.existsSync(result.manifestPath!)).toBe(true);
    expect(result.metadata).toMatchObject({ automationId: 'auto-1', dryRun: false, offer_created: 3, closet_add: 3, wishlist_add: 3 });

    const core = await generate(LEGACY_ID, { databaseUrl: url, asOf: AS_OF, outputDir: tmp('core'), ...quiet });
    expect(new Set(core.csvFiles.map((f) => f.audienceType))).toEqual(new Set(['offer_creators', 'closet_adders', 'wishlist_adders']));
    expect(core.metadata).not.toHaveProperty('offer_created');
  });

  test("the seed's options as push-blaster passes them, DATABASE_URL read from process.env at call time", async () => {
    const out = tmp('seed-options');
    // What the automation engine passes, with outputDir made absolute for the test. With no
    // asOf "now" is the database's, long after the fixture's window: no activity.
    const seedOptions = { lookbackHours: 48, coolingHours: 12, outputDir: out, dryRun: false, automationId: 'automation-123' };
    const result: RegistryGeneratorResult = await withDatabaseUrl(url, () => layer3().generate({ ...seedOptions, ...quiet }));
    expect(result.error).toBeUndefined();
    expect(result.success).toBe(true);
    expect(result.audienceSize).toBe(0);
    expect(result.csvFiles).toEqual([]);
    expect(result.metadata).toMatchObject({ reason: 'no_activity', automationId: 'automation-123', offer_created: 0, closet_add: 0, wishlist_add: 0 });

    // The same options with the fixture's "now": the full audiences.
    const atFixture = await withDatabaseUrl(url, () => layer3().generate({ ...seedOptions, asOf: AS_OF, ...quiet }));
    expect(atFixture.success).toBe(true);
    expect(atFixture.csvFiles.map((f) => path.dirname(f.path))).toEqual(Array(6).fill(fs.realpathSync(out)));
  });

  test('a failed run resolves success: false with the engine\'s error and code, never rejects', async () => {
    const noUrl = await withDatabaseUrl(undefined, () => layer3().generate({ dryRun: true, ...quiet }));
    expect(noUrl).toMatchObject({ success: false, errorCode: 'NO_DATABASE_URL', csvFiles: [], audienceSize: 0 });
    expect(noUrl.error).toMatch(/DATABASE_URL/);
    expect(noUrl.metadata).toBeUndefined();

    const badOption = await layer3().generate({ databaseUrl: url, lookbackHours: -1, ...quiet });
    expect(badOption).toMatchObject({ success: false, errorCode: 'INVALID_OPTION' });
    expect(badOption.error).toMatch(/lookbackHours/);

    const notAnObject = await layer3().generate('48' as never);
    expect(notAnObject).toMatchObject({ success: false, errorCode: 'INVALID_OPTION' });
  });
});

describe('validate()', () => {
  let url: string;
  let emptyUrl: string;

  beforeAll(async () => {
    url = await createTestDatabase('registry_validate');
    emptyUrl = urlFor('ae_registry_no_schema');
    await withClient(adminUrl(), async (client) => {
      await client.query('DROP DATABASE IF EXISTS ae_registry_no_schema WITH (FORCE)');
      await client.query('CREATE DATABASE ae_registry_no_schema');
    });
  });

  test('valid with a reachable database that has the schema; checks without writing anything', async () => {
    const out = path.join(tmp('validate'), 'not', 'yet');
    const events: LogEvent[] = [];
    expect(await layer3().validate({ databaseUrl: url, outputDir: out, onLog: (e) => events.push(e) })).toEqual({ valid: true, errors: [] });
    expect(fs.existsSync(path.dirname(out))).toBe(false);
    // The check is one explanation of a user id that does not exist, logged to onLog only.
    expect(events.map((e) => e.phase)).toContain('explain');
    expect(events.some((e) => /verdict: not_found/.test(e.message))).toBe(true);
  });

  test('with no options it checks what a run would use: DATABASE_URL and .script-outputs in the current directory', async () => {
    const cwd = process.cwd();
    process.chdir(tmp('cwd'));
    try {
      expect(await withDatabaseUrl(url, () => layer3().validate())).toEqual({ valid: true, errors: [] });
      expect(fs.existsSync('.script-outputs')).toBe(false);
      const missing = await withDatabaseUrl(undefined, () => layer3().validate());
      expect(missing.valid).toBe(false);
      expect(missing.errors).toHaveLength(1);
      expect(missing.errors[0]).toMatch(/^NO_DATABASE_URL: .*DATABASE_URL/);
    } finally {
      process.chdir(cwd);
    }
  });

  test('an unreachable database: invalid within the limits, with no password in the message', async () => {
    const started = Date.now();
    const result = await layer3().validate({ databaseUrl: 'postgres://someone:hunter2@127.0.0.1:1/db', acquireTimeoutMs: 2000, ...quiet });
    expect(result.valid).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(/^DATABASE_UNREACHABLE: /);
    expect(result.errors.join()).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('a database without the marketplace schema is invalid, and the error names what is missing', async () => {
    const result = await layer3().validate({ databaseUrl: emptyUrl, ...quiet });
    expect(result.valid).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(/^DATABASE_ERROR: .*users/);
  });

  test('options the engine refuses make it invalid, with the engine\'s message', async () => {
    const result = await layer3().validate({ databaseUrl: url, lookbackHours: 12, coolingHours: 12, ...quiet });
    expect(result.valid).toBe(false);
    expect(result.errors[0]).toMatch(/^INVALID_OPTION: .*coolingHours/);
    const typo = await layer3().validate({ databaseUrl: url, lookback: 48, ...quiet } as never);
    expect(typo.valid).toBe(false);
    expect(typo.errors[0]).toMatch(/^INVALID_OPTION: unknown option "lookback"/);
    expect(await layer3().validate(null as never)).toEqual({ valid: false, errors: ['INVALID_OPTION: options must be an object, got null'] });
  });

  test('an output directory that cannot be written is reported beside the database check', async () => {
    const dir = tmp('files');
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'x');
    const isFile = await layer3().validate({ databaseUrl: url, outputDir: file, ...quiet });
    expect(isFile).toEqual({ valid: false, errors: [`OUTPUT_DIR: outputDir ${file} exists and is not a directory`] });
    const under = await layer3().validate({ databaseUrl: emptyUrl, outputDir: path.join(file, 'sub'), ...quiet });
    expect(under.valid).toBe(false);
    expect(under.errors).toHaveLength(2);
    expect(under.errors[0]).toBe(`OUTPUT_DIR: outputDir ${path.join(file, 'sub')} cannot be created: ${file} is not a directory`);
    expect(under.errors[1]).toMatch(/^DATABASE_ERROR: /);
    const empty = await layer3().validate({ databaseUrl: url, outputDir: '', ...quiet });
    expect(empty.errors).toEqual(['OUTPUT_DIR: outputDir must be a non-empty string, got ""']);
  });

  test('the file options are not passed to the database check (explain takes none of them)', async () => {
    const result = await layer3().validate({ databaseUrl: url, outputDir: tmp('opts'), dryRun: true, automationId: 7, ...quiet });
    expect(result).toEqual({ valid: true, errors: [] });
  });
});
