// reuseRunWithinSeconds (ts/run-sharing.ts): the calls a host makes for one automation share one
// run. One run is proved three ways: one manifest in the output directory, the same
// manifestPath in every result, and the engine's log events reaching only the call that ran
// (a call that reused or joined gets a single `run-sharing` event instead).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Client } from 'pg';

import { executeAudienceGeneration } from '../ts/automation';
import { generate, generatorRegistry, shutdown } from '../ts/index';
import type { GeneratorOptions, GeneratorResult, LogEvent } from '../ts/index';
import { forgetSharedRuns } from '../ts/run-sharing';
import { createTestDatabase } from './helpers/db';
import { AS_OF, loadFixture } from './helpers/layer3-fixture';
import { scratchDirs } from './helpers/scratch';

const tmp = scratchDirs('run-sharing');
let url: string;

beforeAll(async () => {
  url = await createTestDatabase('run_sharing');
  await loadFixture(url);
});

afterEach(() => forgetSharedRuns());

afterAll(async () => {
  await shutdown();
});

/** Records one call's log events: the engine's (a run) and run sharing's. */
function recorder() {
  const events: LogEvent[] = [];
  return {
    onLog: (event: LogEvent) => void events.push(event),
    engineEvents: () => events.filter((e) => e.phase !== 'run-sharing'),
    sharingEvents: () => events.filter((e) => e.phase === 'run-sharing'),
  };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function manifests(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.endsWith('.manifest.json')) : [];
}

function options(dir: string, extra: GeneratorOptions = {}): GeneratorOptions {
  return { databaseUrl: url, asOf: AS_OF, outputDir: dir, automationId: 'auto-1', ...extra };
}

function expectSuccess(result: GeneratorResult): void {
  expect({ error: result.error, success: result.success }).toEqual({ error: undefined, success: true });
}

test('three concurrent calls share one run: one manifest, one result, the engine logs once', async () => {
  const dir = tmp('concurrent');
  const logs = [recorder(), recorder(), recorder()];
  const results = await Promise.all(
    logs.map((log) => generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: log.onLog }))),
  );
  results.forEach(expectSuccess);
  expect(manifests(dir)).toHaveLength(1);
  expect(new Set(results.map((r) => r.manifestPath)).size).toBe(1);
  expect(results[1]).toEqual(results[0]);
  expect(results[2]).toEqual(results[0]);
  expect(results[0].audienceSize).toBeGreaterThan(0);
  // The first call ran (its events), the two others waited for it (one event each, no query).
  expect(logs[0].engineEvents().length).toBeGreaterThan(0);
  expect(logs[0].sharingEvents()).toHaveLength(0);
  for (const log of logs.slice(1)) {
    expect(log.engineEvents()).toHaveLength(0);
    expect(log.sharingEvents().map((e) => e.message)).toEqual([
      expect.stringContaining('waiting for the identical run in flight'),
      expect.stringContaining('reusing the identical run that was in flight'),
    ]);
  }
  // Each caller gets its own copy: changing one result changes no other.
  results[1].csvFiles.length = 0;
  expect(results[2].csvFiles.length).toBe(results[0].csvFiles.length);
});

test('sequential calls within the window reuse the finished run without a query; the legacy id is the same generator', async () => {
  const dir = tmp('sequential');
  const first = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  expectSuccess(first);
  const log = recorder();
  const second = await generate('generate_layer_3_push_csvs', options(dir, { reuseRunWithinSeconds: 60, onLog: log.onLog }));
  expect(second).toEqual(first);
  expect(log.engineEvents()).toHaveLength(0);
  expect(log.sharingEvents()).toEqual([expect.objectContaining({ level: 'info', message: expect.stringMatching(/^\[layer3-behavior\] run-sharing: reusing the identical run that finished [\d.]+ s ago \(manifest .*\): no query$/) })]);
  expect(manifests(dir)).toHaveLength(1);
});

test('off by default: without the option (or with 0) every call runs', async () => {
  const dir = tmp('default');
  const a = await generate('layer3-behavior', options(dir, { onLog: () => undefined }));
  const b = await generate('layer3-behavior', options(dir, { onLog: () => undefined }));
  const c = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 0, onLog: () => undefined }));
  [a, b, c].forEach(expectSuccess);
  expect(new Set([a, b, c].map((r) => r.manifestPath)).size).toBe(3);
  expect(manifests(dir)).toHaveLength(3);
});

test('expiry: a run older than the window is not reused', async () => {
  const dir = tmp('expiry');
  const first = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 1, onLog: () => undefined }));
  expectSuccess(first);
  const within = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 1, onLog: () => undefined }));
  expect(within.manifestPath).toBe(first.manifestPath);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const log = recorder();
  const after = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 1, onLog: log.onLog }));
  expectSuccess(after);
  expect(after.manifestPath).not.toBe(first.manifestPath);
  expect(log.engineEvents().length).toBeGreaterThan(0);
  expect(manifests(dir)).toHaveLength(2);
  // The window is the caller's: a longer one reuses the newest run.
  const longer = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  expect(longer.manifestPath).toBe(after.manifestPath);
});

test('deleted files cause a fresh run: a CSV, or the manifest', async () => {
  const dir = tmp('deleted');
  const first = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  expectSuccess(first);
  fs.rmSync(first.csvFiles[0].path);
  const second = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  expectSuccess(second);
  expect(second.manifestPath).not.toBe(first.manifestPath);
  expect(second.csvFiles.every((f) => fs.existsSync(f.path))).toBe(true);
  fs.rmSync(second.manifestPath!);
  const third = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  expect(third.manifestPath).not.toBe(second.manifestPath);
  // A host that cleans its directory between automations gets a fresh run, never paths that are gone.
  const fourth = await generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  expect(fourth.manifestPath).toBe(third.manifestPath);
});

test('a failed run is never reused: the next identical call runs', async () => {
  const dir = tmp('failed');
  const blocked = path.join(dir, 'out');
  fs.writeFileSync(blocked, 'a file where the output directory should be');
  const failed = await generate('layer3-behavior', options(blocked, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  expect(failed).toMatchObject({ success: false, errorCode: 'OUTPUT_DIR' });
  fs.rmSync(blocked);
  const log = recorder();
  const next = await generate('layer3-behavior', options(blocked, { reuseRunWithinSeconds: 60, onLog: log.onLog }));
  expectSuccess(next);
  expect(log.sharingEvents()).toHaveLength(0);
  expect(manifests(blocked)).toHaveLength(1);
});

test('a call that waited for a run that failed runs again instead of taking the failure', async () => {
  const dir = tmp('failed-in-flight');
  // The owner's run waits on a lock on offers until its signal cancels it on the server.
  const locker = new Client({ connectionString: url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE offers IN ACCESS EXCLUSIVE MODE');
    const controller = new AbortController();
    const owner = generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, signal: controller.signal, onLog: () => undefined }));
    const log = recorder();
    const waiter = generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: log.onLog }));
    await waitUntil(async () => (await locker.query("SELECT 1 FROM pg_locks WHERE relation = 'offers'::regclass AND NOT granted")).rowCount! > 0);
    controller.abort();
    expect(await owner).toMatchObject({ success: false, errorCode: 'CANCELLED' });
    await locker.query('COMMIT');
    const waiterResult = await waiter;
    expectSuccess(waiterResult);
    expect(log.sharingEvents()[0].message).toContain('waiting for the identical run in flight');
    expect(log.engineEvents().length).toBeGreaterThan(0); // it ran itself
    expect(manifests(dir)).toHaveLength(1);
  } finally {
    await locker.end();
  }
});

test("a waiter's signal cancels only its wait; the shared run goes on for its owner", async () => {
  const dir = tmp('waiter-abort');
  const owner = generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined }));
  const controller = new AbortController();
  const waiter = generate('layer3-behavior', options(dir, { reuseRunWithinSeconds: 60, signal: controller.signal, onLog: () => undefined }));
  controller.abort();
  const [ownerResult, waiterResult] = await Promise.all([owner, waiter]);
  expectSuccess(ownerResult);
  expect(waiterResult).toMatchObject({ success: false, errorCode: 'CANCELLED' });
  expect(manifests(dir)).toHaveLength(1);
});

test('different options do not share: automation id, window, rules, output directory, database', async () => {
  const dir = tmp('different');
  const base = options(dir, { reuseRunWithinSeconds: 60, onLog: () => undefined });
  const variants: GeneratorOptions[] = [
    base,
    { ...base, automationId: 'auto-2' },
    { ...base, lookbackHours: 47 },
    { ...base, rules: 'v1' },
    { ...base, asOf: '2026-11-28T12:00:01.000Z' },
    { ...base, dryRun: true },
  ];
  const results = await Promise.all(variants.map((v) => generate('layer3-behavior', v)));
  results.forEach(expectSuccess);
  const written = results.filter((r) => r.manifestPath);
  expect(new Set(written.map((r) => r.manifestPath)).size).toBe(written.length);
  expect(manifests(dir)).toHaveLength(5); // the dry run writes none
  // Another output directory and another database name are other runs too.
  const elsewhere = await generate('layer3-behavior', { ...base, outputDir: tmp('elsewhere') });
  expect(elsewhere.manifestPath).not.toBe(results[0].manifestPath);
  const otherDb = await generate('layer3-behavior', { ...base, databaseUrl: `${url}?application_name=other` });
  expect(otherDb.manifestPath).not.toBe(results[0].manifestPath);
  // The same options in another order, and another onLog or signal, are the same run.
  const reordered = await generate('layer3-behavior', {
    onLog: () => undefined,
    signal: new AbortController().signal,
    automationId: 'auto-1',
    outputDir: dir,
    asOf: AS_OF,
    databaseUrl: url,
    reuseRunWithinSeconds: 60,
  });
  expect(reordered.manifestPath).toBe(results[0].manifestPath);
});

test('an invalid value is refused before anything runs', async () => {
  for (const value of [-1, Number.NaN, Infinity, 86_401, '60', null]) {
    const result = await generate('layer3-behavior', { ...options(tmp('invalid')), reuseRunWithinSeconds: value as number });
    expect(result).toMatchObject({ success: false, errorCode: 'INVALID_OPTION' });
    expect(result.error).toMatch(/^reuseRunWithinSeconds must be a number of seconds from 0 to 86400/);
  }
  const validation = await generatorRegistry.get('layer3-behavior')!.validate({ databaseUrl: url, reuseRunWithinSeconds: -5 });
  expect(validation.valid).toBe(false);
  expect(validation.errors).toContainEqual(expect.stringMatching(/^INVALID_OPTION: reuseRunWithinSeconds/));
  expect(await generatorRegistry.get('layer3-behavior')!.validate({ databaseUrl: url, reuseRunWithinSeconds: 300 })).toEqual({ valid: true, errors: [] });
});

test("generatorRegistry's generate(): push-blaster's three calls per automation make one run (seed dialect each time)", async () => {
  const dir = tmp('registry');
  const generator = generatorRegistry.get('generate_layer_3_push_csvs')!;
  const results = [];
  for (let push = 0; push < 3; push++) {
    results.push(await generator.generate({ ...options(dir), automationId: 'daily-layer-3', reuseRunWithinSeconds: 600, onLog: () => undefined }));
  }
  expect(results.every((r) => r.success)).toBe(true);
  expect(new Set(results.map((r) => r.manifestPath)).size).toBe(1);
  expect(manifests(dir)).toHaveLength(1);
  for (const r of results) expect(r.csvFiles.map((f) => f.audienceType)).toEqual(expect.arrayContaining(['offer_created', 'closet_add', 'wishlist_add']));
});

test("generatorRegistry's Layer 5 generator shares too, and passes the engine's result unchanged", async () => {
  const dir = tmp('registry-l5');
  const generator = generatorRegistry.get('generate_new_user_waterfall')!;
  expect(generator.name).toBe('layer5-waterfall');
  const opts = { databaseUrl: url, asOf: AS_OF, outputDir: dir, automationId: 'l5', reuseRunWithinSeconds: 600, onLog: () => undefined };
  const [a, b] = await Promise.all([generator.generate(opts), generator.generate(opts)]);
  expect(a.success).toBe(true);
  expect(b).toEqual(a);
  const engine = await generate('layer5-waterfall', opts);
  expect(engine).toEqual(a); // reused, and not renamed: Layer 5 has no seed names
});

test("audience-engine/automation: config.reuseRunWithinSeconds gives the automation's calls one V2 run", async () => {
  const dir = tmp('automation');
  const automation = { id: 'auto-42', audienceCriteria: { customScript: { scriptId: 'generate_layer_3_push_csvs', parameters: {} } } };
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const config = { engineVersion: 'v2', databaseUrl: url, outputDir: dir, asOf: AS_OF, logger, reuseRunWithinSeconds: 600 };
  const results = await Promise.all([1, 2, 3].map(() => executeAudienceGeneration(automation, config)));
  expect(results[1]).toEqual(results[0]);
  expect(results[2]).toEqual(results[0]);
  expect(manifests(dir)).toHaveLength(1);
  // Without it, each call runs.
  const other = tmp('automation-off');
  const { reuseRunWithinSeconds: _omit, ...unshared } = config;
  await executeAudienceGeneration(automation, { ...unshared, outputDir: other });
  await executeAudienceGeneration(automation, { ...unshared, outputDir: other });
  expect(manifests(other)).toHaveLength(2);
});
