// Layer 5, the new-user waterfall (docs/layer5-contract.md), against a real PostgreSQL: every
// rule on a fixture worked out by hand (helpers/layer5-fixture.ts), V1 = V2 byte for byte on
// both schema variants, the options, the CLI and the automation module's parameters.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { executeAudienceGeneration } from '../ts/automation';
import { compareEngines } from '../ts/compare';
import { main as compareCli } from '../ts/compare-cli';
import { explainUser, generate, generateLayer5, shutdown } from '../ts/index';
import type { Layer5Result } from '../ts/types';
import { runV1Script } from '../ts/v1-executor';
import { readCsv } from './helpers/csv';
import { createTestDatabase, ROOT, type SchemaVariant } from './helpers/db';
import {
  AS_OF,
  AUDIENCE_TYPES,
  EXPECTED_COUNTS,
  EXPECTED_LEVELS,
  EXPECTED_ORDER,
  EXPECTED_TARGET_SHOES,
  type Level,
  loadLayer5Fixture,
  PROFILES,
  U,
} from './helpers/layer5-fixture';
import { scratchDirs } from './helpers/scratch';

const tmp = scratchDirs('layer5');
const LEVELS: Level[] = [1, 2, 3, 4, 5];
const TEST_USER = '0e54067c-4c0e-4e4a-8a23-a47661578059';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let python: string;
const urls: Partial<Record<SchemaVariant, string>> = {};

const run = (databaseUrl: string, options: Record<string, unknown> = {}) =>
  generateLayer5({ databaseUrl, asOf: AS_OF, outputDir: tmp('v2'), onLog: () => undefined, ...options });

/** A run's files by name with the stamp taken out, as their bytes. */
function filesOf(result: { csvFiles: { path: string }[] }): Record<string, string> {
  return Object.fromEntries(
    result.csvFiles.map((f) => [path.basename(f.path).replace(/\d{8}T\d{6}(-\d+)?/, '<ts>'), fs.readFileSync(f.path, 'utf8')]),
  );
}

beforeAll(async () => {
  python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
  for (const variant of ['default', 'alternate'] as SchemaVariant[]) {
    urls[variant] = await createTestDatabase(`layer5_${variant}`, variant);
    await loadLayer5Fixture(urls[variant]!);
  }
}, 120_000);

afterAll(async () => {
  await shutdown();
});

describe.each(['default', 'alternate'] as SchemaVariant[])('the fixture (%s column types)', (variant) => {
  let result: Layer5Result;
  beforeAll(async () => {
    result = await run(urls[variant]!);
    if (!result.success) throw new Error(`${result.errorCode}: ${result.error}`);
  });

  test('each user lands in the level the contract says, in created_at order (ties by id)', () => {
    for (const level of LEVELS) {
      const file = result.csvFiles.find((f) => f.audienceType === AUDIENCE_TYPES[level] && !f.isTestFile);
      if (EXPECTED_ORDER[level].length === 0) {
        expect({ level, file }).toEqual({ level, file: undefined });
        continue;
      }
      const { rows } = readCsv(file!.path);
      expect({ level, users: rows.map((r) => r.user_id) }).toEqual({ level, users: EXPECTED_ORDER[level] });
      for (const row of rows) {
        expect(row.new_user_level).toBe(String(level));
        expect({ username: row.username, firstName: row.firstName }).toEqual(PROFILES[row.user_id]);
      }
    }
    const excluded = Object.keys(EXPECTED_LEVELS).filter((u) => EXPECTED_LEVELS[u] === 'excluded');
    const written = result.csvFiles.filter((f) => !f.isTestFile).flatMap((f) => readCsv(f.path).rows.map((r) => r.user_id));
    expect(written.filter((u) => excluded.includes(u))).toEqual([]);
  });

  test('levels 3 to 5 carry the top target shoe of the fallback chain', () => {
    for (const level of [3, 4, 5] as Level[]) {
      const file = result.csvFiles.find((f) => f.audienceType === AUDIENCE_TYPES[level] && !f.isTestFile);
      if (!file) continue;
      const { header, rows } = readCsv(file.path);
      expect(header).toEqual(['user_id', 'username', 'firstName', 'new_user_level', 'top_target_shoe', 'top_target_shoe_variantid']);
      for (const row of rows) {
        const expected = EXPECTED_TARGET_SHOES[row.user_id] ?? { name: '', variantId: '' };
        expect({ user: row.user_id, name: row.top_target_shoe, variant: row.top_target_shoe_variantid }).toEqual({
          user: row.user_id,
          name: expected.name,
          variant: expected.variantId,
        });
      }
    }
    const noShoes = result.csvFiles.find((f) => f.audienceType === 'no_shoes' && !f.isTestFile);
    expect(readCsv(noShoes!.path).header).toEqual(['user_id', 'username', 'firstName', 'new_user_level']);
  });

  test('files end rows with CRLF; test files hold the test account; the funnel adds up', () => {
    for (const file of result.csvFiles) {
      const text = fs.readFileSync(file.path, 'utf8');
      // One CRLF per record (header included), the last too; a line break inside a quoted
      // field (a first name with a newline) stays as stored.
      expect({ file: path.basename(file.path), crlf: text.split('\r\n').length - 1, lastByte: text.endsWith('\r\n') }).toEqual({
        file: path.basename(file.path),
        crlf: readCsv(file.path).rows.length + 1,
        lastByte: true,
      });
    }
    const tests = result.csvFiles.filter((f) => f.isTestFile);
    expect(tests.length).toBe(result.csvFiles.length / 2);
    for (const file of tests) {
      const { rows } = readCsv(file.path);
      expect(rows).toHaveLength(1);
      expect(rows[0].user_id).toBe(TEST_USER);
      expect(path.basename(file.path)).toMatch(/^[a-z-]+-new-user-test-\d{8}T\d{6}\.csv$/);
    }
    expect(result.metadata?.counts).toEqual(EXPECTED_COUNTS);
    expect(result.audienceSize).toBe(EXPECTED_COUNTS.baseUsers);
    const manifest = JSON.parse(fs.readFileSync(result.manifestPath!, 'utf8'));
    expect(manifest.counts).toEqual(EXPECTED_COUNTS);
    expect(manifest.files).toHaveLength(result.csvFiles.length);
  });

  test('V1 (the Python script) writes the same files, byte for byte', async () => {
    const v1 = await runV1Script({
      scriptId: 'generate_new_user_waterfall',
      arguments: { minHours: 12, maxDays: 14 },
      outputDir: tmp('v1'),
      asOf: AS_OF,
      databaseUrl: urls[variant]!,
      pythonPath: python,
      env: {},
    });
    expect(filesOf(v1)).toEqual(filesOf(result));
    expect(Object.keys(filesOf(v1)).length).toBeGreaterThanOrEqual(8);
  });
});

describe('options, runs without files, the CLI and the automation module', () => {
  test("Layer 3's options are refused by name; Layer 5's are validated", async () => {
    const url = urls.default!;
    const bad = await generate('layer5-waterfall', { databaseUrl: url, coolingHours: 2, onLog: () => undefined } as never);
    expect(bad).toMatchObject({ success: false, errorCode: 'INVALID_OPTION' });
    expect(bad.error).toMatch(/^unknown option "coolingHours"; the options are: minHours, maxDays, outputDir/);
    const inverted = await run(url, { minHours: 48, maxDays: 1 });
    expect(inverted.error).toBe(
      'maxDays must be at least minHours / 24, got maxDays 1 and minHours 48 (the base set is the accounts created between asOf - maxDays days and asOf - minHours hours)',
    );
  });

  test('a window without accounts succeeds with no file and says why', async () => {
    const out = tmp('empty');
    const result = await run(urls.default!, { asOf: '2020-01-01T00:00:00Z', outputDir: path.join(out, 'made') });
    expect(result).toMatchObject({ success: true, csvFiles: [], audienceSize: 0, metadata: { reason: 'no_new_users' } });
    expect(fs.existsSync(path.join(out, 'made'))).toBe(false);
  });

  test('a dry run writes nothing and plans the files a run would write', async () => {
    const out = tmp('dry');
    const result = await run(urls.default!, { dryRun: true, outputDir: out });
    expect(result.success).toBe(true);
    expect(fs.readdirSync(out)).toEqual([]);
    const planned = (result.metadata as unknown as { manifest: { files: unknown[] } }).manifest.files;
    const filled = LEVELS.filter((l) => EXPECTED_ORDER[l].length > 0).length;
    expect(planned).toHaveLength(2 * filled);
  });

  test('a narrower window (minHours, maxDays) takes fewer accounts', async () => {
    const wide = await run(urls.default!, { dryRun: true });
    const narrow = await run(urls.default!, { dryRun: true, minHours: 48, maxDays: 7 });
    expect(narrow.success).toBe(true);
    expect(narrow.metadata!.counts.baseUsers).toBeLessThan(wide.metadata!.counts.baseUsers);
  });

  test('the CLI runs it by name, with its own flags, and prints the funnel', () => {
    const out = tmp('cli');
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.DATABASE_URL;
    const stdout = execFileSync(
      process.execPath,
      [path.join(ROOT, 'bin', 'audience-engine.js'), 'generate', 'generate_new_user_waterfall', '--database-url', urls.default!, '--as-of', AS_OF, '--min-hours', '12', '--max-days', '14', '--out', out, '--quiet'],
      { cwd: ROOT, env, encoding: 'utf8' },
    );
    expect(stdout).toContain(`new users ${EXPECTED_COUNTS.baseUsers} in the base set`);
    expect(stdout).toMatch(/1 no_shoes\s+\|?\s*\d+/);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.csv')).length).toBeGreaterThanOrEqual(8);
  });

  test('audience-engine/automation maps min_hours/max_days for both engines and they agree', async () => {
    const automation = { id: 'l5', audienceCriteria: { customScript: { scriptId: 'generate_new_user_waterfall', parameters: { min_hours: 48, max_days: 7 } } } };
    const sizes: number[] = [];
    for (const version of ['v1', 'v2']) {
      const env = { AUTOMATION_ENGINE_VERSION: version, DATABASE_URL: urls.default!, PATH: process.env.PATH };
      const result = await executeAudienceGeneration(automation, { env, asOf: AS_OF, pythonPath: python, outputDir: tmp(version), logger: quiet });
      sizes.push(result.audienceSize);
    }
    const direct = await run(urls.default!, { dryRun: true, minHours: 48, maxDays: 7 });
    expect(sizes).toEqual([direct.audienceSize, direct.audienceSize]);
  });
});

describe('explainUser for Layer 5', () => {
  const explain = (user: string, options: Record<string, unknown> = {}) =>
    explainUser(user, { generator: 'layer5-waterfall', databaseUrl: urls.default!, asOf: AS_OF, onLog: () => undefined, ...options });

  test('every user of the fixture: the verdict agrees with the level the run gives, and so does the row', async () => {
    const run5 = await run(urls.default!);
    const rows = new Map<string, Record<string, string>>();
    for (const file of run5.csvFiles.filter((f) => !f.isTestFile)) for (const row of readCsv(file.path).rows) rows.set(row.user_id, row);
    for (const [user, level] of Object.entries(EXPECTED_LEVELS)) {
      const result = await explain(user);
      expect({ user, success: result.success }).toEqual({ user, success: true });
      if (level === 'excluded') {
        expect({ user, kind: result.verdict?.kind }).toEqual({ user, kind: expect.stringMatching(/^(deleted|no_first_name|outside_window)$/) });
        expect(result.row).toBeUndefined();
      } else {
        expect({ user, verdict: result.verdict }).toEqual({ user, verdict: expect.objectContaining({ kind: 'in_level', level, audienceType: AUDIENCE_TYPES[level] }) });
        expect({ user, row: result.row }).toEqual({ user, row: rows.get(user) });
      }
    }
  });

  test('it says which check failed and where the target shoe came from', async () => {
    const noCloset = await explain(U.l1Everything);
    expect(noCloset.checks).toEqual({ closetItem: false, bio: true, offer: true, wishlistItem: true });
    expect(noCloset.verdict).toMatchObject({ kind: 'in_level', level: 1 });
    expect(noCloset.verdict?.reason).toContain('no closet item at all');
    const star = await explain(U.star);
    expect(star.checks).toEqual({ closetItem: true, bio: true, offer: true, wishlistItem: true });
    expect(star.targetShoe).toMatchObject({ source: 'desired_item', variantId: EXPECTED_TARGET_SHOES[U.star].variantId });
    const tooOld = await explain(U.tooOld);
    expect(tooOld.verdict).toMatchObject({ kind: 'outside_window' });
    expect(tooOld.verdict?.reason).toContain('before the window starts (older than maxDays 14)');
    expect((await explain(U.noFirstName)).verdict?.kind).toBe('no_first_name');
    expect((await explain(U.deleted)).verdict?.kind).toBe('deleted');
    expect((await explain('00000000-0000-4000-8000-00000000ffff')).verdict?.kind).toBe('not_found');
    const bad = await explain(U.star, { lookbackHours: 3 });
    expect(bad).toMatchObject({ success: false, errorCode: 'INVALID_OPTION' });
    expect(bad.error).toMatch(/^unknown option "lookbackHours" for explainUser; its options are: minHours, maxDays, asOf/);
  });

  test('the CLI explains with --generator', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.DATABASE_URL;
    const stdout = execFileSync(
      process.execPath,
      [path.join(ROOT, 'bin', 'audience-engine.js'), 'explain', U.l1Everything, '--generator', 'layer5-waterfall', '--database-url', urls.default!, '--as-of', AS_OF, '--quiet'],
      { cwd: ROOT, env, encoding: 'utf8' },
    );
    expect(stdout).toContain('verdict  in_level: level 1 (no_shoes): no closet item at all');
    expect(stdout).toMatch(/closet item \| bio \| offer \| wishlist item|closet item\s+bio/);
  });
});

describe('compare for Layer 5', () => {
  test('V1 and V2 write the same files: compareEngines and the CLI say SAME; rules are refused', async () => {
    const report = await compareEngines({ databaseUrl: urls.alternate!, asOf: AS_OF, scriptId: 'generate_new_user_waterfall', pythonPath: python, env: {}, outDir: tmp('cmp') });
    expect(report.same).toBe(true);
    expect(report.rules).toBeUndefined();
    expect(report.generatorOptions).toEqual({ minHours: 12, maxDays: 14 });
    expect(report.audiences.map((a) => a.audienceType).sort()).toEqual(LEVELS.filter((l) => EXPECTED_ORDER[l].length).map((l) => AUDIENCE_TYPES[l]).sort());
    expect(report.v2AudienceSize).toBe(EXPECTED_COUNTS.baseUsers);
    const out: string[] = [];
    const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t), env: { PATH: process.env.PATH } };
    const args = ['--database-url', urls.default!, '--as-of', AS_OF, '--script-id', 'generate_new_user_waterfall', '--min-hours', '24', '--max-days', '10', '--python', python, '--out', tmp('cli-cmp')];
    expect(await compareCli(args, io)).toBe(0);
    expect(out.join('')).toContain('RESULT: SAME');
    expect(out.join('')).toContain('minHours=24 maxDays=10');
    const refused: string[] = [];
    const refusedIo = { ...io, stderr: (t: string) => void refused.push(t) };
    expect(await compareCli([...args, '--rules', 'v1'], refusedIo)).toBe(2);
    expect(refused.join('')).toContain('has one rule set');
  });
});
