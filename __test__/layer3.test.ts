// Layer 3 rules (docs/layer3-contract.md), each with fixture data made for it,
// against a real PostgreSQL, for both column-type variants of the schema.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { generateLayer3, shutdown } from '../ts/index';
import type { GeneratorResult, LogEvent } from '../ts/types';
import { readCsv, fileOf, rowsOf, usersOf } from './helpers/csv';
import { createTestDatabase, id, selectOnlyRole, type SchemaVariant } from './helpers/db';
import { AS_OF, loadFixture, NAMES, V } from './helpers/layer3-fixture';
import { scratchDirs } from './helpers/scratch';

const OFFER_HEADER = ['user_id', 'username', 'firstName', 'usersize', 'relevant_variant_size', 'product_name', 'variantID', 'lastActive', 'inventory_count'];
const CLOSET_HEADER = [...OFFER_HEADER.slice(0, 8), 'wishlist_count'];
const tmp = scratchDirs('layer3');

function row(userId: string, variant: keyof typeof V, count: number, extra: Partial<Record<string, string>> = {}) {
  const sizes: Record<string, string> = { v1: '10', v2: '10.5', v3: 'Unknown', v4: '9', v5: '8', v6: '11', v9: '12' };
  return [
    userId,
    extra.username ?? `user_${userId.slice(-4)}`,
    extra.firstName ?? `First${userId.slice(-4)}`,
    extra.usersize ?? '',
    sizes[variant],
    NAMES[variant],
    V[variant],
    extra.lastActive ?? '',
    String(count),
  ];
}

// PostgreSQL renders last_active as text in UTC: timestamptz columns carry the offset.
const expectedRows = (variant: SchemaVariant) => ({
  offer_creators: [
    row(id(1), 'v1', 4, {
      username: 'sneakerhead',
      firstName: 'Ada',
      usersize: '10',
      lastActive: variant === 'default' ? '2026-11-27 21:30:00' : '2026-11-27 21:30:00+00',
    }),
    row(id(15), 'v1', 4),
    row(id(3), 'v1', 4, { firstName: '' }),
  ],
  closet_adders: [row(id(6), 'v4', 2, { usersize: '11' }), row(id(16), 'v9', 2), row(id(14), 'v9', 2)],
  wishlist_adders: [row(id(9), 'v1', 4), row(id(10), 'v2', 3), row(id(8), 'v1', 4)],
});
const EXPECTED = expectedRows('default');

function rawRows(file: string): string[][] {
  const { header, rows } = readCsv(file);
  return rows.map((r) => header.map((h) => r[h]));
}

describe.each<SchemaVariant>(['default', 'alternate'])('layer3-behavior on the %s column types', (variant) => {
  let url: string;
  let out: string;
  let result: GeneratorResult;
  const events: LogEvent[] = [];

  beforeAll(async () => {
    url = await createTestDatabase(`layer3_${variant}`, variant);
    await loadFixture(url);
    out = tmp('out');
    // The generator only reads: the main cases run as a role that may only SELECT.
    const readerUrl = await selectOnlyRole(url, `reader_${variant}`);
    result = await generateLayer3({ databaseUrl: readerUrl, asOf: AS_OF, outputDir: out, automationId: 'auto-7', onLog: (e) => events.push(e) });
  });

  it('succeeds with six files', () => {
    expect(result.error).toBeUndefined();
    expect(result.success).toBe(true);
    expect(result.csvFiles).toHaveLength(6);
    expect(result.audienceSize).toBe(9);
  });

  it('writes the expected rows, columns and order for each audience', () => {
    expect(readCsv(fileOf(result, 'offer_creators').path).header).toEqual(OFFER_HEADER);
    expect(readCsv(fileOf(result, 'wishlist_adders').path).header).toEqual(OFFER_HEADER);
    expect(readCsv(fileOf(result, 'closet_adders').path).header).toEqual(CLOSET_HEADER);
    for (const [audience, expected] of Object.entries(expectedRows(variant))) {
      expect({ audience, rows: rawRows(fileOf(result, audience).path) }).toEqual({ audience, rows: expected });
    }
  });

  it('takes the first item of a multi-item offer and the smallest record id on a tie', () => {
    expect(rowsOf(result, 'offer_creators').find((r) => r.user_id === id(1))?.variantID).toBe(V.v1);
    expect(rowsOf(result, 'closet_adders').find((r) => r.user_id === id(16))?.variantID).toBe(V.v9);
  });

  it('includes the window start, excludes the window end and the time before the window', () => {
    const all = [...usersOf(result, 'offer_creators'), ...usersOf(result, 'closet_adders'), ...usersOf(result, 'wishlist_adders')];
    expect(all).toContain(id(3));
    expect(all).not.toContain(id(4));
    expect(all).not.toContain(id(12));
  });

  it('excludes deleted users, deleted wishlist items and items not open for trade', () => {
    const all = [...usersOf(result, 'offer_creators'), ...usersOf(result, 'closet_adders'), ...usersOf(result, 'wishlist_adders')];
    expect(all).not.toContain(id(5));
    expect(rowsOf(result, 'wishlist_adders').find((r) => r.user_id === id(9))?.variantID).toBe(V.v1);
    expect(usersOf(result, 'closet_adders')).not.toContain(id(8));
    expect(usersOf(result, 'wishlist_adders')).toContain(id(8));
  });

  it('applies thresholds at the limit and one below, without fallback', () => {
    expect(usersOf(result, 'wishlist_adders')).toContain(id(10)); // inventory 3 = limit
    expect(usersOf(result, 'wishlist_adders')).not.toContain(id(11)); // inventory 2
    expect(usersOf(result, 'closet_adders')).toContain(id(6)); // wishlist 2 = limit
    expect(usersOf(result, 'closet_adders')).not.toContain(id(7)); // wishlist 1
    const all = [...usersOf(result, 'offer_creators'), ...usersOf(result, 'closet_adders'), ...usersOf(result, 'wishlist_adders')];
    expect(all).not.toContain(id(2)); // dropped offer, no fallback to the wishlist add
  });

  it('records the window, the automation id and the count at each stage', () => {
    expect(result.metadata).toMatchObject({
      automationId: 'auto-7',
      asOf: AS_OF,
      window: { start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T00:00:00.000Z' },
      counts: {
        activityRows: { offerCreated: 4, closetAdd: 6, wishlistAdd: 5, total: 15 },
        uniqueUsers: 12,
        audiences: {
          offer_creators: { beforeFilter: 4, afterFilter: 3 },
          closet_adders: { beforeFilter: 4, afterFilter: 3 },
          wishlist_adders: { beforeFilter: 4, afterFilter: 3 },
        },
      },
    });
  });

  it('writes one test row per audience from the first production row', () => {
    for (const audience of Object.keys(EXPECTED) as (keyof typeof EXPECTED)[]) {
      const [test] = rawRows(fileOf(result, audience, true).path);
      const first = EXPECTED[audience][0];
      expect(rawRows(fileOf(result, audience, true).path)).toHaveLength(1);
      expect(test.slice(0, 4)).toEqual(['0e54067c-4c0e-4e4a-8a23-a47661578059', 'beems', 'Mbiyimoh', '13']);
      expect(test.slice(4, 7)).toEqual(first.slice(4, 7));
      expect(test[8]).toBe(first[8]);
      expect(Number.isNaN(Date.parse(test[7]))).toBe(false);
    }
  });

  it('names the six files and the manifest with one stamp and leaves no temporary file', () => {
    const names = fs.readdirSync(out).sort();
    const stamp = names.find((n) => n.endsWith('.csv'))?.match(/_(\d{8}T\d{6})\.csv$/)?.[1];
    expect(stamp).toBeDefined();
    expect(names).toEqual(
      [
        `${stamp}.manifest.json`,
        `recent-closet-adders_${stamp}.csv`,
        `recent-closet-adders_TEST_${stamp}.csv`,
        `recent-offer-creators_${stamp}.csv`,
        `recent-offer-creators_TEST_${stamp}.csv`,
        `recent-wishlist-adders_${stamp}.csv`,
        `recent-wishlist-adders_TEST_${stamp}.csv`,
      ].sort(),
    );
    for (const file of result.csvFiles) expect(path.isAbsolute(file.path)).toBe(true);
  });

  it('writes a run manifest whose checksums match the files, without credentials', () => {
    expect(result.manifestPath).toBe(path.join(fs.realpathSync(out), path.basename(result.manifestPath!)));
    const text = fs.readFileSync(result.manifestPath!, 'utf8');
    expect(text).not.toContain(new URL(url).password);
    expect(text).not.toContain('databaseUrl');
    const manifest = JSON.parse(text);
    expect(manifest).toMatchObject({
      manifestVersion: 1,
      generator: { name: 'layer3-behavior', version: '1.0.0' },
      engine: { name: 'audience-engine' },
      automationId: 'auto-7',
      asOf: AS_OF,
      window: result.metadata!.window,
      counts: result.metadata!.counts,
      options: { lookbackHours: 48, coolingHours: 12, minInventoryCount: 3, minWishlistCount: 2 },
    });
    expect(manifest.files).toHaveLength(6);
    for (const entry of manifest.files) {
      const file = result.csvFiles.find((f) => path.basename(f.path) === entry.name)!;
      const bytes = fs.readFileSync(file.path);
      expect(entry).toEqual({
        name: path.basename(file.path),
        audienceType: file.audienceType,
        isTestFile: file.isTestFile,
        rowCount: file.rowCount,
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
    }
  });

  it('writes RFC 4180 bytes: \\n line ends, no BOM, quotes only where needed', () => {
    const bytes = fs.readFileSync(fileOf(result, 'offer_creators').path);
    expect(bytes[0]).not.toBe(0xef);
    const text = bytes.toString('utf8');
    expect(text.startsWith(`${OFFER_HEADER.join(',')}\n`)).toBe(true);
    expect(text).toContain(`,"Air Jordan 1, ""Chicago""",`);
    expect(text).not.toContain('\r');
    expect(fs.readFileSync(fileOf(result, 'wishlist_adders').path, 'utf8')).toContain(`,"Dunk Low\nPanda 🐼",`);
  });

  it('logs each phase with timing, prefixed with the generator name', () => {
    const ends = events.filter((e) => e.phaseMs !== null).map((e) => e.phase);
    // activity and demand run in parallel: either may end first
    expect([...ends].sort()).toEqual(['activity', 'connect', 'demand', 'enrich', 'write']);
    expect(ends[0]).toBe('connect');
    expect(ends.slice(-2)).toEqual(['enrich', 'write']);
    for (const e of events) expect(e.message.startsWith('[layer3-behavior] ')).toBe(true);
  });
});

describe('layer3-behavior runs without writing', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('layer3_modes');
    await loadFixture(url);
  });

  it('dry run computes the same counts and writes nothing', async () => {
    const out = path.join(tmp('dry'), 'not-created');
    const result = await generateLayer3({ databaseUrl: url, asOf: AS_OF, outputDir: out, dryRun: true, onLog: () => {} });
    expect(result.success).toBe(true);
    expect(result.csvFiles).toEqual([]);
    expect(result.audienceSize).toBe(9);
    expect(result.metadata?.dryRun).toBe(true);
    expect(result.manifestPath).toBeUndefined();
    expect(result.metadata?.manifest).toMatchObject({ stamp: null, generator: { name: 'layer3-behavior' }, counts: result.metadata?.counts });
    expect(result.metadata?.manifest?.files).toHaveLength(6);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('no activity in the window: success, no files, reason no_activity', async () => {
    const out = tmp('none');
    const result = await generateLayer3({ databaseUrl: url, asOf: '2020-06-01T00:00:00Z', outputDir: out, onLog: () => {} });
    expect(result).toMatchObject({ success: true, csvFiles: [], audienceSize: 0, metadata: { reason: 'no_activity' } });
    expect(fs.readdirSync(out)).toEqual([]);
    // A directory the run had to create for files it then did not write is not left behind.
    const fresh = path.join(out, 'new', 'dir');
    const again = await generateLayer3({ databaseUrl: url, asOf: '2020-06-01T00:00:00Z', outputDir: fresh, onLog: () => {} });
    expect(again).toMatchObject({ success: true, metadata: { reason: 'no_activity' } });
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('warns when lookbackHours is not more than twice coolingHours: the window is empty', async () => {
    const events: LogEvent[] = [];
    const result = await generateLayer3({
      databaseUrl: url,
      asOf: AS_OF,
      lookbackHours: 20,
      coolingHours: 12,
      dryRun: true,
      onLog: (e) => events.push(e),
    });
    expect(result).toMatchObject({ success: true, audienceSize: 0, metadata: { window: { start: '2026-11-28T04:00:00.000Z', end: '2026-11-28T00:00:00.000Z' } } });
    const warnings = events.filter((e) => e.level === 'warn').map((e) => e.message);
    expect(warnings).toEqual([
      '[layer3-behavior] the window is empty: it runs from asOf − (lookbackHours − coolingHours) to asOf − coolingHours, and lookbackHours 20 is not more than twice coolingHours 12, so no action can count',
    ]);
    const defaults = await generateLayer3({ databaseUrl: url, asOf: AS_OF, dryRun: true, onLog: (e) => events.push(e) });
    expect(defaults.success).toBe(true);
    expect(events.filter((e) => e.level === 'warn')).toHaveLength(1);
  });

  it('uses the database now() when asOf is absent, and custom hours and thresholds', async () => {
    const out = tmp('now');
    const result = await generateLayer3({ databaseUrl: url, outputDir: out, lookbackHours: 24 * 400, coolingHours: 0, minInventoryCount: 0, minWishlistCount: 0, onLog: () => {} });
    expect(result.success).toBe(true);
    const asOf = Date.parse(result.metadata!.asOf);
    expect(Math.abs(asOf - Date.now())).toBeLessThan(60_000);
    // Everything since 2025-10 is in the window; with no thresholds nobody is dropped.
    expect(result.metadata?.counts.audiences?.offer_creators).toEqual({ beforeFilter: 5, afterFilter: 5 });
  });

  it('writes header-only files for empty audiences and placeholder test rows', async () => {
    const out = tmp('empty');
    const result = await generateLayer3({ databaseUrl: url, asOf: AS_OF, outputDir: out, minInventoryCount: 1000, minWishlistCount: 1000, onLog: () => {} });
    expect(result.success).toBe(true);
    expect(result.audienceSize).toBe(0);
    const file = fileOf(result, 'closet_adders');
    expect(file.rowCount).toBe(0);
    expect(fs.readFileSync(file.path, 'utf8')).toBe(`${CLOSET_HEADER.join(',')}\n`);
    const [test] = rawRows(fileOf(result, 'closet_adders', true).path);
    expect(test.slice(4)).toEqual(['13', 'Test Product', 'test-variant-id', test[7], '']);
  });
});

afterAll(async () => {
  await shutdown();
});
