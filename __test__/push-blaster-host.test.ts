// push-blaster as a host of V2, end to end against a real database: its automation engine calls
// generatorRegistry once per push, then its send phase finds the files by directory search and
// name, parses them and fills in the production copy (the model: helpers/push-blaster-host.ts).
// The process's current directory is the host's (`/app` in its image, where `generated_csvs`
// exists), so relative output directories resolve as they do there.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { generatorRegistry, shutdown } from '../ts/index';
import type { GeneratorOptions, RegistryGeneratorResult } from '../ts/index';
import { forgetSharedRuns } from '../ts/run-sharing';
import { createTestDatabase } from './helpers/db';
import { AS_OF, loadFixture } from './helpers/layer3-fixture';
import { AS_OF as L5_AS_OF, loadLayer5Fixture } from './helpers/layer5-fixture';
import {
  LAYER3_PRODUCTION_PUSHES,
  LAYER5_PATTERNS,
  loadAutomationEngine,
  looksLikeTestFile,
  pickAudienceFiles,
  recentFilesCheck,
  sendPhase,
  type HostAutomation,
  type PushOutcome,
} from './helpers/push-blaster-host';
import { scratchDirs } from './helpers/scratch';

const tmp = scratchDirs('push-blaster-host');
const savedCwd = process.cwd();
const savedUrl = process.env.DATABASE_URL;
let url: string;

const quiet = { onLog: () => undefined };
const SEED_TYPES = ['offer_created', 'closet_add', 'wishlist_add'] as const;
const COUNT_COLUMN = ['inventory_count', 'wishlist_count', 'inventory_count'];

const layer3Automation = (id = 'daily-layer-3'): HostAutomation => ({
  id,
  pushSequence: LAYER3_PRODUCTION_PUSHES,
  audienceCriteria: { customScript: { scriptId: 'generate_layer_3_push_csvs', parameters: {} } },
});

beforeAll(async () => {
  url = await createTestDatabase('push_blaster_host');
  await loadFixture(url);
  process.env.DATABASE_URL = url; // the host's environment: its registry reads DATABASE_URL
});

afterEach(() => {
  process.chdir(savedCwd);
  forgetSharedRuns();
});

afterAll(async () => {
  process.chdir(savedCwd);
  if (savedUrl === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = savedUrl;
  await shutdown();
});

/** A fresh host directory laid out as the image lays it out (`generated_csvs` exists), made current. */
function enterHost(): string {
  const app = path.join(tmp('host'), 'app');
  fs.mkdirSync(path.join(app, 'generated_csvs'), { recursive: true });
  process.chdir(app);
  return app;
}

function v2Host(extra: GeneratorOptions = {}) {
  const v1Calls: string[] = [];
  const engine = loadAutomationEngine({ AUTOMATION_ENGINE_VERSION: 'v2' }, generatorRegistry, async (id) => void v1Calls.push(id));
  return { engine, v1Calls, extra: { ...quiet, asOf: AS_OF, ...extra } };
}

/** A run the way an earlier automation left it: files aged by `ageMs`. */
async function previousRun(dir: string, ageMs: number, options: GeneratorOptions = {}): Promise<RegistryGeneratorResult> {
  const result = await generatorRegistry.get('layer3-behavior')!.generate({ ...quiet, asOf: AS_OF, outputDir: dir, automationId: 'yesterday', ...options });
  expect(result.success).toBe(true);
  const old = new Date(Date.now() - ageMs);
  for (const file of [...result.csvFiles.map((f) => f.path), result.manifestPath!]) fs.utimesSync(file, old, old);
  return result;
}

function manifestsIn(dir: string): { path: string; stamp: string; names: string[] }[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.manifest.json'))
    .map((name) => {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
      return { path: path.join(dir, name), stamp: manifest.stamp, names: manifest.files.map((f: { name: string }) => f.name) };
    });
}

/** The file of `type` (seed name) in `result`, production or TEST. */
function fileOf(result: RegistryGeneratorResult, type: string, test: boolean): string {
  const file = result.csvFiles.find((f) => f.audienceType === type && f.isTestFile === test);
  if (!file) throw new Error(`no ${test ? 'TEST ' : ''}${type} file`);
  return file.path;
}

function expectCompleteMessages(outcomes: PushOutcome[]): void {
  outcomes.forEach((outcome, i) => {
    expect(outcome.failure).toBeUndefined();
    expect(outcome.rows.length).toBeGreaterThan(0);
    // Every row gives a message: none dropped for a placeholder left behind.
    expect(outcome.messages).toHaveLength(outcome.rows.length);
    expect(outcome.userIds).toHaveLength(outcome.rows.length);
    outcome.rows.forEach((row, r) => {
      const message = outcome.messages[r];
      expect(message.userId).toBe(row.user_id);
      for (const column of ['product_name', 'variantID', COUNT_COLUMN[i]]) expect({ column, value: row[column] }).toEqual({ column, value: expect.stringMatching(/\S/) });
      expect(`${message.title}${message.body}${message.deepLink}`).not.toContain('[[var:');
      expect(message.deepLink).toBe(LAYER3_PRODUCTION_PUSHES[i].deepLink!.replace('[[var:variantID]]', row.variantID));
      expect(`${message.title}${message.body}`).toContain(row[COUNT_COLUMN[i]]);
      expect(`${message.title}${message.body}`).toContain(`${row.product_name}s`);
    });
  });
}

describe('generation: what the host calls', () => {
  test('the version is read when the engine module loads; a later change needs a restart', async () => {
    const env: NodeJS.ProcessEnv = { AUTOMATION_ENGINE_VERSION: 'v2' };
    enterHost();
    const v1Calls: string[] = [];
    const engine = loadAutomationEngine(env, generatorRegistry, async (id) => void v1Calls.push(id));
    env.AUTOMATION_ENGINE_VERSION = 'v1'; // set after load: not seen
    const records = await engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: { ...quiet, asOf: AS_OF } });
    expect(records.map((r) => r.engine)).toEqual(['v2', 'v2', 'v2']);
    expect(v1Calls).toEqual([]);
    // Loaded with v1 (or unset): the host's own V1 for every push; the registry is not asked.
    const v1 = loadAutomationEngine({}, generatorRegistry, async (id) => void v1Calls.push(id));
    expect((await v1.generateAudiences(layer3Automation())).map((r) => r.engine)).toEqual(['v1', 'v1', 'v1']);
    expect(v1Calls).toEqual(['generate_layer_3_push_csvs', 'generate_layer_3_push_csvs', 'generate_layer_3_push_csvs']);
  });

  test('once per push: three runs and three snapshots as the host calls today; one with reuseRunWithinSeconds', async () => {
    const app = enterHost();
    const dir = path.join(app, 'generated_csvs');
    const today = v2Host();
    await today.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: today.extra });
    expect(manifestsIn(dir)).toHaveLength(3);

    const app2 = enterHost();
    const shared = v2Host({ reuseRunWithinSeconds: 600 });
    const records = await shared.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: shared.extra });
    expect(manifestsIn(path.join(app2, 'generated_csvs'))).toHaveLength(1);
    expect(records[1]).toEqual(records[0]);
    expect(records[2]).toEqual(records[0]);
  });

  test("a failed run throws in the host (its error), and the next push's call does not reuse it", async () => {
    enterHost();
    fs.writeFileSync('blocked', 'not a directory');
    const host = v2Host({ reuseRunWithinSeconds: 600 });
    await expect(host.engine.generateAudiences(layer3Automation(), { outputDir: 'blocked', extraOptions: host.extra })).rejects.toThrow(
      /^V2 generator failed: .*blocked/,
    );
    fs.rmSync('blocked');
    await expect(host.engine.generateAudiences(layer3Automation(), { outputDir: 'blocked', extraOptions: host.extra })).resolves.toHaveLength(3);
  });
});

describe('send phase: which files, which rows, which messages', () => {
  test("outputDir generated_csvs: the recent-files check sees this run, and each push takes this run's file, not a previous run's", async () => {
    const app = enterHost();
    const dir = path.join(app, 'generated_csvs');
    // Yesterday's files in the same directory, and older ones in another searched directory.
    const yesterday = await previousRun(dir, 24 * 3600_000);
    fs.mkdirSync(path.join(app, '.script-outputs'));
    await previousRun(path.join(app, '.script-outputs'), 48 * 3600_000);

    const host = v2Host({ reuseRunWithinSeconds: 600 });
    await host.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: host.extra });
    const runs = manifestsIn(dir).filter((m) => !yesterday.manifestPath!.endsWith(path.basename(m.path)));
    expect(runs).toHaveLength(1);
    const now = await generatorRegistry.get('layer3-behavior')!.generate({ ...host.extra, outputDir: 'generated_csvs', dryRun: false, automationId: 'daily-layer-3', lookbackHours: 48, coolingHours: 12 });
    expect(now.manifestPath).toBe(runs[0].path); // the host's run, handed back by run sharing

    expect(recentFilesCheck('TEST')).toEqual({ found: true, dir, patterns: ['offer-creators', 'closet-adders', 'wishlist-adders'] });
    expect(recentFilesCheck('REAL').found).toBe(true);

    for (const mode of ['REAL', 'TEST'] as const) {
      const picked = pickAudienceFiles(layer3Automation(), mode);
      expect(picked.map((f) => f?.fullPath)).toEqual(SEED_TYPES.map((type) => fileOf(now, type, mode === 'TEST')));
      expect(picked.map((f) => looksLikeTestFile(f!.name))).toEqual([mode === 'TEST', mode === 'TEST', mode === 'TEST']);
      // One run for the three pushes: every file is in this run's manifest.
      for (const file of picked) expect(runs[0].names).toContain(file!.name);
    }
  });

  test("every production row gives a complete message; the TEST pushes too; the three pushes read one run's rows", async () => {
    const app = enterHost();
    await previousRun(path.join(app, 'generated_csvs'), 3600_000, { automationId: 'daily-layer-3' });
    const host = v2Host({ reuseRunWithinSeconds: 600 });
    const [record] = await host.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: host.extra });

    const real = sendPhase(layer3Automation(), 'REAL');
    expectCompleteMessages(real);
    expect(real.reduce((n, o) => n + o.userIds.length, 0)).toBe(record.audienceSize);
    // Rows as the run wrote them, names with commas, quotes and newlines included.
    expect(real.flatMap((o) => o.rows.map((r) => r.product_name))).toEqual(expect.arrayContaining(['Air Jordan 1, "Chicago"', 'Dunk Low\nPanda 🐼']));
    const stamps = new Set(real.map((o) => o.file!.name.replace(/^.*_(\d{8}T\d{6}(?:-\d+)?)\.csv$/, '$1')));
    expect(stamps.size).toBe(1);
    expect(record.files).toEqual(expect.arrayContaining(real.map((o) => o.file!.fullPath)));

    const test = sendPhase(layer3Automation(), 'TEST');
    expectCompleteMessages(test);
    expect(test.map((o) => o.userIds)).toEqual([1, 2, 3].map(() => ['0e54067c-4c0e-4e4a-8a23-a47661578059']));
    expect(record.files).toEqual(expect.arrayContaining(test.map((o) => o.file!.fullPath)));
  });

  test('three runs (no sharing): the pushes still read one run, the last; a user who acted between calls is in two snapshots', async () => {
    const app = enterHost();
    const dir = path.join(app, 'generated_csvs');
    const host = v2Host();
    await host.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: host.extra });
    const runs = manifestsIn(dir);
    expect(new Set(runs.map((m) => m.stamp)).size).toBe(3);
    const picked = pickAudienceFiles(layer3Automation(), 'REAL').map((f) => f!.name);
    const holders = runs.filter((m) => picked.every((name) => m.names.includes(name)));
    expect(holders).toHaveLength(1);
  });

  test("push-blaster's own outputDir, .script-outputs: the recent-files check looks only in generated_csvs and misses the run", async () => {
    const app = enterHost();
    fs.mkdirSync(path.join(app, '.script-outputs'));
    const host = v2Host({ reuseRunWithinSeconds: 600 });
    const [record] = await host.engine.generateAudiences(layer3Automation(), { extraOptions: host.extra });
    expect(record.files!.every((f) => f.startsWith(path.join(app, '.script-outputs')))).toBe(true);
    // The check fails, so the test route runs the V1 script, whose files in generated_csvs are
    // newer than V2's and are the ones sent: V2's run would not be what goes out.
    expect(recentFilesCheck('TEST')).toEqual({ found: false, dir: path.join(app, 'generated_csvs'), patterns: [] });
    expect(recentFilesCheck('REAL').found).toBe(false);
    // Without a V1 run the send phase does find V2's files (it searches all four directories).
    expect(pickAudienceFiles(layer3Automation(), 'REAL').every((f) => f?.fullPath.includes('.script-outputs'))).toBe(true);
  });

  test('the recent-files check ages out after 30 minutes: a live send later than that would run the V1 script', async () => {
    enterHost();
    const host = v2Host({ reuseRunWithinSeconds: 600 });
    await host.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: host.extra });
    expect(recentFilesCheck('REAL', process.cwd(), Date.now() + 29 * 60_000).found).toBe(true);
    expect(recentFilesCheck('REAL', process.cwd(), Date.now() + 31 * 60_000).found).toBe(false);
  });
});

describe('empty audiences', () => {
  // minWishlistCount 1000 empties closet-adders (push 2) and keeps the two others.
  const emptyClosets = { minWishlistCount: 1000 };

  test('rules v2 (header-only file): push 2 takes this run\'s empty file and sends nothing, even with yesterday\'s file beside it', async () => {
    const app = enterHost();
    const yesterday = await previousRun(path.join(app, 'generated_csvs'), 24 * 3600_000);
    const host = v2Host({ ...emptyClosets, rules: 'v2', reuseRunWithinSeconds: 600 });
    const [record] = await host.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: host.extra });
    const real = sendPhase(layer3Automation(), 'REAL');
    expect(record.files).toContain(real[1].file!.fullPath);
    expect(real[1]).toMatchObject({ rows: [], userIds: [], failure: 'No valid user IDs found in CSV file' });
    expect(real[1].file!.fullPath).not.toBe(fileOf(yesterday, 'closet_add', false));
    expectCompleteMessages([real[0]]);
    // Its TEST push still goes to the test user, with the placeholder product and an empty count.
    const test = sendPhase(layer3Automation(), 'TEST');
    expect(record.files).toContain(test[1].file!.fullPath);
    expect(test[1].rows).toEqual([expect.objectContaining({ product_name: 'Test Product', variantID: 'test-variant-id', wishlist_count: '' })]);
    expect(test[1].messages[0].title).toBe('📈  people want your shoe');
    // The check sees all three patterns: the test route does not run the V1 script.
    expect(recentFilesCheck('REAL').patterns).toHaveLength(3);
  });

  test("rules v1 (no file): push 2 takes yesterday's file and would send yesterday's audience; with no older file it fails", async () => {
    const app = enterHost();
    const yesterday = await previousRun(path.join(app, 'generated_csvs'), 24 * 3600_000);
    const host = v2Host({ ...emptyClosets, rules: 'v1', reuseRunWithinSeconds: 600 });
    const [record] = await host.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: host.extra });
    const real = sendPhase(layer3Automation(), 'REAL');
    expect(record.files!.some((f) => f.includes('closet-adders'))).toBe(false);
    expect(real[1].file!.fullPath).toBe(fileOf(yesterday, 'closet_add', false)); // stale
    expect(real[1].userIds.length).toBeGreaterThan(0); // and sendable: the wrong people get push 2
    expect(record.files).toContain(real[0].file!.fullPath);

    enterHost();
    const fresh = v2Host({ ...emptyClosets, rules: 'v1', reuseRunWithinSeconds: 600 });
    await fresh.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: fresh.extra });
    expect(sendPhase(layer3Automation(), 'REAL')[1]).toMatchObject({ failure: 'CSV file not found' });
  });

  test("no activity at all: no file under either rules, so every push takes a previous run's file", async () => {
    const app = enterHost();
    const yesterday = await previousRun(path.join(app, 'generated_csvs'), 24 * 3600_000);
    const host = v2Host({ asOf: '2020-01-01T00:00:00Z', reuseRunWithinSeconds: 600 });
    const [record] = await host.engine.generateAudiences(layer3Automation(), { outputDir: 'generated_csvs', extraOptions: host.extra });
    expect(record).toEqual({ engine: 'v2', audienceSize: 0, files: [] });
    const picked = pickAudienceFiles(layer3Automation(), 'REAL').map((f) => f!.fullPath);
    expect(picked).toEqual(SEED_TYPES.map((type) => fileOf(yesterday, type, false)));
  });
});

describe('Layer 5: the new-user waterfall automation', () => {
  let l5Url: string;
  beforeAll(async () => {
    l5Url = await createTestDatabase('push_blaster_host_l5');
    await loadLayer5Fixture(l5Url);
  });

  test('one file per level by name, TEST files told apart, push i takes level i', async () => {
    enterHost();
    const automation: HostAutomation = {
      id: 'daily-waterfall',
      pushSequence: [1, 2, 3, 4, 5].map((level) => ({ layerId: 5, title: `level ${level}`, body: level === 5 ? 'those [[var:top_target_shoe]]s' : 'b' })),
      audienceCriteria: { customScript: { scriptId: 'generate_new_user_waterfall' } },
    };
    const host = v2Host({ databaseUrl: l5Url, asOf: L5_AS_OF, reuseRunWithinSeconds: 600 });
    const records = await host.engine.generateAudiences(automation, { outputDir: 'generated_csvs', extraOptions: host.extra });
    expect(records).toHaveLength(5);
    expect(manifestsIn(path.join(process.cwd(), 'generated_csvs'))).toHaveLength(1);
    for (const mode of ['REAL', 'TEST'] as const) {
      const picked = pickAudienceFiles(automation, mode);
      picked.forEach((file, i) => {
        expect(file?.name).toContain(LAYER5_PATTERNS[i]);
        expect(looksLikeTestFile(file!.name)).toBe(mode === 'TEST');
        expect(records[0].files).toContain(file!.fullPath);
      });
    }
    const level5 = sendPhase(automation, 'REAL')[4];
    expect(level5.messages).toHaveLength(level5.rows.length);
    // Layer 5's files never satisfy the recent-files check (it knows Layer 3's names only).
    expect(recentFilesCheck('REAL').found).toBe(false);
    // The host's lookbackHours/coolingHours (the seed's common options) are ignored for Layer 5,
    // by generate() above and by validate(), as the seed's Layer 5 ignores them.
    expect(await generatorRegistry.get('generate_new_user_waterfall')!.validate({ databaseUrl: l5Url, lookbackHours: 48, coolingHours: 12 })).toEqual({ valid: true, errors: [] });
  });
});
