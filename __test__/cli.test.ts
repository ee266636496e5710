// The operator CLI (`audience-engine`, ts/cli.ts), spawned as a process through its launcher
// bin/audience-engine.js against the Layer 3 fixture database: exit codes, --json output,
// the summary table, progress on stderr, explain's verdicts, and no password in any output.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import type { ExplainResult, GeneratorInfo, GeneratorResult } from '../ts/types';
import { createTestDatabase, Fixture, id, ROOT, withClient } from './helpers/db';
import { AS_OF, H, loadFixture, V } from './helpers/layer3-fixture';
import { scratchDirs } from './helpers/scratch';

const BIN = path.join(ROOT, 'bin', 'audience-engine.js');
const LONELY = id(77); // a live user with no action at all
const PASSWORD = 'cli-s3cret-pw';

let url: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/audience-engine.js ...args` without DATABASE_URL unless `env` sets it. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
    if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A connection left open for the caller (to hold a lock); end it when done. */
async function openClient(databaseUrl: string) {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  return client;
}

const lines = (text: string) => text.split('\n').filter((l) => l.length > 0);
const tmp = scratchDirs('cli');
const window = ['--as-of', AS_OF];

/** A local port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Compiles ts/ when a dist/ file is missing or older than its source (npm test builds first). */
function ensureBuilt(): void {
  const stale = fs
    .readdirSync(path.join(ROOT, 'ts'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .some((f) => {
      const built = path.join(ROOT, 'dist', f.replace(/\.ts$/, '.js'));
      return !fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(ROOT, 'ts', f)).mtimeMs;
    });
  if (stale) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  if (!fs.readdirSync(ROOT).some((f) => /^audience-engine\..*\.node$/.test(f))) {
    throw new Error('the native addon is not built: run `npx napi build --platform` (or npm run build) first');
  }
}

beforeAll(async () => {
  ensureBuilt();
  url = await createTestDatabase('cli');
  await loadFixture(url);
  const { fixture, close } = await Fixture.open(url);
  await fixture.user({ id: LONELY });
  await close();
});

describe('help and list', () => {
  it('--help for the CLI and each command, exit 0', async () => {
    const main = await cli(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/^Usage: audience-engine <command>/);
    for (const command of ['list', 'generate', 'explain']) {
      const run = await cli([command, '--help']);
      expect({ command, code: run.code }).toEqual({ command, code: 0 });
      expect(run.stdout).toContain(`Usage: audience-engine ${command}`);
    }
    const generate = await cli(['generate', '--help']);
    for (const flag of ['--lookback-hours', '--cooling-hours', '--as-of', '--out', '--dry-run', '--database-url', '--json', '--verbose', '--min-inventory-count', '--min-wishlist-count', '--automation-id', '--statement-timeout-ms']) {
      expect(generate.stdout).toContain(flag);
    }
  });

  it('no command: the usage on stderr, exit 2; an unknown command: exit 2', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: audience-engine');
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(lines(unknown.stderr)).toEqual(['audience-engine: unknown command "frobnicate"; run audience-engine --help']);
  });

  it('a database URL typed in the wrong place is echoed without its password, on one line', async () => {
    const leaked = `postgres://reader:${PASSWORD}@db.example:5432/marketplace`;
    const shown = 'postgres://reader:***@db.example:5432/marketplace';
    const asCommand = await cli([leaked]);
    expect(asCommand.code).toBe(2);
    expect(lines(asCommand.stderr)).toEqual([`audience-engine: unknown command "${shown}"; run audience-engine --help`]);
    const asOf = await cli(['compare', '--database-url', url, '--as-of', leaked]);
    expect(asOf.code).toBe(2);
    expect(lines(asOf.stderr)).toEqual([
      `audience-engine compare: --as-of must be an ISO-8601 date-time with Z or an offset, got "${shown}"; run audience-engine compare --help`,
    ]);
    const hours = await cli(['compare', '--database-url', url, '--lookback-hours', leaked]);
    expect(lines(hours.stderr)).toEqual([
      `audience-engine compare: --lookback-hours must be a finite number, got "${shown}"; run audience-engine compare --help`,
    ]);
    const help = await cli(['compare', '--help']);
    expect(help.stdout).toMatch(/^Usage: audience-engine compare \[options\]/);
    for (const run of [asCommand, asOf, hours]) expect(run.stderr).not.toContain(PASSWORD);
  });

  it('list: the registry as a table', async () => {
    const run = await cli(['list']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const [header, rule, ...rows] = lines(run.stdout);
    expect(header).toMatch(/^name\s+layer\s+legacy ids\s+description$/);
    expect(rule).toMatch(/^-+\s+-+/);
    expect(rows.find((r) => r.startsWith('layer3-behavior'))).toMatch(/^layer3-behavior\s+3\s+generate_layer_3_push_csvs\s+Behavior response/);
  });

  it('list --json: the registry as JSON alone', async () => {
    const run = await cli(['list', '--json']);
    expect(run.code).toBe(0);
    const generators: GeneratorInfo[] = JSON.parse(run.stdout);
    expect(generators).toContainEqual(
      expect.objectContaining({ name: 'layer3-behavior', layerId: 3, legacyScriptIds: ['generate_layer_3_push_csvs'] }),
    );
  });
});

describe('generate', () => {
  it('writes the files, prints progress on stderr and the summary table on stdout', async () => {
    const out = tmp();
    const run = await cli(['generate', 'layer3-behavior', '--database-url', url, ...window, '--out', out, '--automation-id', 'cli-7']);
    expect(run.stderr).not.toMatch(/failed/);
    expect(run.code).toBe(0);

    // Not a terminal: each log line plainly, phase by phase.
    for (const phase of ['connect', 'activity', 'demand', 'enrich', 'write']) {
      expect(run.stderr).toMatch(new RegExp(`^\\[layer3-behavior\\] ${phase}: done in [\\d.]+ ms`, 'm'));
    }

    const stdout = run.stdout;
    expect(stdout).toMatch(/^layer3-behavior$/m);
    expect(stdout).toContain(`as of    ${AS_OF}`);
    expect(stdout).toContain('window   [2026-11-27T00:00:00.000Z, 2026-11-28T00:00:00.000Z)  (lookback 48 h, cooling 12 h)');
    expect(stdout).toMatch(/activity 1\d actions in the window \(offer_created \d+, closet_add \d+, wishlist_add \d+\) -> 12 users, one row each/);
    expect(stdout).toMatch(/^audience\s+before filter\s+after filter\s+file$/m);
    expect(stdout).toMatch(/^offer_creators\s+4\s+3\s+\S+recent-offer-creators_\d{8}T\d{6}\.csv$/m);
    expect(stdout).toMatch(/^closet_adders\s+4\s+3\s+\S+recent-closet-adders_\d{8}T\d{6}\.csv$/m);
    expect(stdout).toMatch(/^wishlist_adders\s+4\s+3\s+\S+recent-wishlist-adders_\d{8}T\d{6}\.csv$/m);
    expect(stdout).toMatch(/^total\s+12\s+9$/m);
    expect(stdout).toMatch(/^Total time [\d.]+ m?s/m);
    expect(stdout).toContain('automation cli-7');

    // Every file named in the table exists, in --out.
    const named = [...stdout.matchAll(/(\S+recent-[a-z-]+_\d{8}T\d{6}\.csv)$/gm)].map((m) => m[1]);
    expect(named).toHaveLength(3);
    for (const file of named) {
      expect(path.dirname(file)).toBe(out);
      expect(fs.existsSync(file)).toBe(true);
    }
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.csv'))).toHaveLength(6);

    // The run manifest the engine writes next to the files.
    const manifest = /^Manifest (\S+\.manifest\.json)$/m.exec(stdout)?.[1];
    expect(manifest).toBeDefined();
    expect(path.dirname(manifest as string)).toBe(out);
    expect(fs.existsSync(manifest as string)).toBe(true);
  });

  it('--json prints the result object alone on stdout; --quiet silences stderr', async () => {
    const out = tmp();
    const run = await cli(['generate', 'generate_layer_3_push_csvs', '--database-url', url, ...window, '--out', out, '--json', '--quiet']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const result: GeneratorResult = JSON.parse(run.stdout);
    expect(result.success).toBe(true);
    expect(result.audienceSize).toBe(9);
    expect(result.csvFiles).toHaveLength(6);
    for (const file of result.csvFiles) expect(fs.existsSync(file.path)).toBe(true);
    expect(result.metadata?.counts.audiences).toEqual({
      offer_creators: { beforeFilter: 4, afterFilter: 3 },
      closet_adders: { beforeFilter: 4, afterFilter: 3 },
      wishlist_adders: { beforeFilter: 4, afterFilter: 3 },
    });
    expect(result.metadata?.asOf).toBe(AS_OF);
    const { manifestPath } = result as GeneratorResult & { manifestPath?: string };
    expect(fs.existsSync(manifestPath as string)).toBe(true);
  });

  it('--json keeps progress on stderr without --quiet', async () => {
    const run = await cli(['generate', 'layer3-behavior', '--database-url', url, ...window, '--out', tmp(), '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).success).toBe(true);
    expect(run.stderr).toMatch(/^\[layer3-behavior\] activity: done in/m);
  });

  it('--verbose adds the time of each query to the progress; without it there is none', async () => {
    const quiet = await cli(['generate', 'layer3-behavior', '--database-url', url, ...window, '--dry-run']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toMatch(/ took /);
    const verbose = await cli(['generate', 'layer3-behavior', '--database-url', url, ...window, '--dry-run', '--verbose']);
    expect(verbose.code).toBe(0);
    for (const query of ['deleted users', 'offer_created rows', 'inventory counts', 'wishlist counts', 'sizes of the picked users', 'names', 'last activity', 'variants']) {
      expect(verbose.stderr).toMatch(new RegExp(`\\] (activity|demand|enrich): ${query} took \\d+\\.\\d ms$`, 'm'));
    }
  });

  it('--dry-run writes no file and says so in the table', async () => {
    const out = path.join(tmp(), 'not-created');
    const run = await cli(['generate', 'layer3-behavior', '--database-url', url, ...window, '--out', out, '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('layer3-behavior (dry run: no files written)');
    expect(run.stdout).toMatch(/^offer_creators\s+4\s+3\s+\(dry run\)$/m);
    expect(run.stdout).toMatch(/^total\s+12\s+9$/m);
    expect(fs.existsSync(out) ? fs.readdirSync(out) : []).toEqual([]);
    // The manifest a real run would write, printed instead.
    const [, manifest] = run.stdout.split('Manifest (dry run, not written):\n');
    expect(JSON.parse(manifest)).toMatchObject({ asOf: AS_OF, window: { start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T00:00:00.000Z' } });
  });

  it('passes the window and thresholds through; reads DATABASE_URL', async () => {
    const run = await cli(
      ['generate', 'layer3-behavior', ...window, '--lookback-hours', '60', '--cooling-hours', '12', '--min-inventory-count', '5', '--min-wishlist-count', '0', '--dry-run', '--json', '--quiet'],
      { DATABASE_URL: url },
    );
    expect(run.code).toBe(0);
    const result: GeneratorResult = JSON.parse(run.stdout);
    expect(result.metadata?.window).toEqual({ start: '2026-11-26T12:00:00.000Z', end: '2026-11-28T00:00:00.000Z' });
    expect(result.metadata?.options).toMatchObject({ lookbackHours: 60, coolingHours: 12, minInventoryCount: 5, minWishlistCount: 0 });
    // V1 stock is 4 < 5: no offer creator passes; every closet adder passes with a threshold of 0.
    expect(result.metadata?.counts.audiences?.offer_creators.afterFilter).toBe(0);
    expect(result.metadata?.counts.audiences?.closet_adders.afterFilter).toBe(result.metadata?.counts.audiences?.closet_adders.beforeFilter);
  });

  it('an unknown flag: exit 2, one line naming the flag and --help, nothing on stdout', async () => {
    const run = await cli(['generate', 'layer3-behavior', '--database-url', url, '--lookback', '24']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual(['audience-engine generate: unknown option --lookback; run audience-engine generate --help']);
  });

  it('a bad value: exit 2 with the engine\'s message naming it', async () => {
    const run = await cli(['generate', 'layer3-behavior', '--database-url', url, '--lookback-hours', 'abc', '--out', tmp()]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const errors = lines(run.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^audience-engine generate: lookbackHours must be a finite number .*got "abc" \[INVALID_OPTION\]; .*audience-engine generate --help$/);

    const negative = await cli(['generate', 'layer3-behavior', '--database-url', url, '--cooling-hours', '-1', '--quiet']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/coolingHours .*got -1 \[INVALID_OPTION\]/);

    const asOf = await cli(['generate', 'layer3-behavior', '--database-url', url, '--as-of', 'yesterday', '--quiet', '--json']);
    expect(asOf.code).toBe(2);
    expect(JSON.parse(asOf.stdout)).toMatchObject({ success: false, errorCode: 'INVALID_OPTION' });
    expect(lines(asOf.stderr)).toHaveLength(1);
    expect(asOf.stderr).toMatch(/asOf must be an ISO-8601 date-time .*got "yesterday"/);
  });

  it('a missing value or a missing generator: exit 2', async () => {
    const noValue = await cli(['generate', 'layer3-behavior', '--out']);
    expect(noValue.code).toBe(2);
    expect(lines(noValue.stderr)).toEqual(['audience-engine generate: --out needs a value; run audience-engine generate --help']);
    const noName = await cli(['generate', '--database-url', url]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/needs a generator name .*audience-engine list/);
  });

  it('an unknown generator: exit 2, pointing at list', async () => {
    const run = await cli(['generate', 'layer9-nope', '--database-url', url, ...window, '--quiet']);
    expect(run.code).toBe(2);
    const errors = lines(run.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/unknown generator "layer9-nope".*\[UNKNOWN_GENERATOR\]; run audience-engine list/);
  });

  it('no database URL: exit 2, saying how to give one', async () => {
    const run = await cli(['generate', 'layer3-behavior', ...window, '--quiet']);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/\[NO_DATABASE_URL\]; pass --database-url URL or set DATABASE_URL/);
  });

  it('an unreachable database: exit 1, one line, no password anywhere', async () => {
    const port = await closedPort();
    const badUrl = `postgres://cli_user:${PASSWORD}@127.0.0.1:${port}/nowhere`;
    const quiet = await cli(['generate', 'layer3-behavior', '--database-url', badUrl, ...window, '--out', tmp(), '--acquire-timeout-ms', '1500', '--quiet']);
    expect(quiet.code).toBe(1);
    expect(quiet.stdout).toBe('');
    const errors = lines(quiet.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^audience-engine generate: .*\[DATABASE_UNREACHABLE\]; check that the database is up/);

    // With progress and --json, and with the URL from the environment: still no password.
    const loud = await cli(['generate', 'layer3-behavior', ...window, '--out', tmp(), '--acquire-timeout-ms', '1500', '--json'], { DATABASE_URL: badUrl });
    expect(loud.code).toBe(1);
    expect(JSON.parse(loud.stdout)).toMatchObject({ success: false, errorCode: 'DATABASE_UNREACHABLE' });
    expect(lines(loud.stderr).at(-1)).toMatch(/\[DATABASE_UNREACHABLE\]/);
    for (const run of [quiet, loud]) {
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(run.stdout + run.stderr).not.toContain(badUrl);
    }
  });

  it('no password in usage errors either', async () => {
    const badUrl = `postgres://cli_user:${PASSWORD}@127.0.0.1:1/nowhere`;
    const runs = [
      await cli(['generate', 'layer3-behavior', `--databse-url=${badUrl}`]),
      await cli(['generate', 'layer3-behavior', '--database-url', badUrl, '--lookback-hours', 'abc']),
      await cli(['explain', 'not-a-uuid', '--database-url', badUrl]),
    ];
    for (const run of runs) {
      expect(run.code).toBe(2);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    }
    expect(lines(runs[0].stderr)).toEqual(['audience-engine generate: unknown option --databse-url; run audience-engine generate --help']);
  });
});

describe('explain', () => {
  const explain = (user: string, ...extra: string[]) => cli(['explain', user, '--database-url', url, ...window, ...extra]);
  const explainJson = async (user: string): Promise<ExplainResult> => {
    const run = await explain(user, '--json', '--quiet');
    expect({ user, code: run.code, stderr: run.stderr }).toEqual({ user, code: 0, stderr: '' });
    return JSON.parse(run.stdout);
  };

  it('in_audience: the window, the actions, the winner and why, the demand, the verdict, the row', async () => {
    const run = await explain(id(1));
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toContain(`user     ${id(1)}`);
    expect(out).toContain('window   [2026-11-27T00:00:00.000Z, 2026-11-28T00:00:00.000Z)');
    expect(out).toMatch(/^Actions \(2, newest first\):$/m);
    expect(out).toMatch(/^\s+type\s+product\s+variant\s+time\s+position$/m);
    expect(out).toMatch(new RegExp(`^\\s+closet_add\\s+New Balance 550 — white/green\\s+${V.v4}\\s+2026-11-27T20:00:00.000Z\\s+in window$`, 'm'));
    expect(out).toMatch(new RegExp(`^\\s+offer_created\\s+Air Jordan 1, "Chicago"\\s+${V.v1}\\s+2026-11-27T10:00:00.000Z\\s+in window$`, 'm'));
    expect(out).toMatch(/^Winner\s+offer_created Air Jordan 1, "Chicago" \(variant .*\)$/m);
    expect(out).toContain('offer_created outranks closet_add');
    expect(out).toMatch(/^Demand\s+inventory_count 4 >= threshold 3: passes$/m);
    expect(out).toMatch(/^Verdict\s+in_audience \(offer_creators\): .+$/m);
    expect(out).toMatch(new RegExp(`^\\s+user_id\\s+${id(1)}$`, 'm'));
    expect(out).toMatch(/^\s+inventory_count\s+4$/m);
    expect(run.stderr).toMatch(/^\[layer3-behavior\] explain: done in/m);
    expect(run.stderr).not.toMatch(/ took /);

    const verbose = await explain(id(1), '--verbose');
    expect(verbose.code).toBe(0);
    for (const query of ['the user', "the user's actions", 'variants', 'inventory counts', 'profile']) {
      expect(verbose.stderr).toMatch(new RegExp(`\\] explain: ${query} took \\d+\\.\\d ms$`, 'm'));
    }

    const result = await explainJson(id(1));
    expect(result).toMatchObject({ success: true, userId: id(1), verdict: { kind: 'in_audience', audienceType: 'offer_creators' } });
    expect(result.demand).toEqual({ measure: 'inventory_count', count: 4, threshold: 3, passes: true });
  });

  it('below_demand: the count against the threshold', async () => {
    const run = await explain(id(2));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Demand\s+inventory_count 2 < threshold 3: fails$/m);
    expect(run.stdout).toMatch(/^Verdict\s+below_demand \(offer_creators\): .*inventory_count 2 < 3/m);
    expect((await explainJson(id(2))).verdict).toMatchObject({ kind: 'below_demand', count: 2, threshold: 3 });
  });

  it('outside_window: the position and the hours outside', async () => {
    const after = await explain(id(4));
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/^\s+offer_created\s+.*2026-11-28T00:00:00.000Z\s+at the window end \(excluded\)$/m);
    expect(after.stdout).toMatch(/^Verdict\s+outside_window: no action in the window/m);
    const before = await explain(id(12));
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^\s+wishlist_add\s+.*2026-11-26T23:59:59.000Z\s+before window by 1 s$/m);
    const holder = await explain(H, '--json', '--quiet');
    const result: ExplainResult = JSON.parse(holder.stdout);
    expect(result.verdict?.kind).toBe('outside_window');
    expect(result.actions.every((a) => a.position === 'before_window' && (a.hoursOutside ?? 0) > 0)).toBe(true);
  });

  it('deleted, not_found, no_activity: exit 0 with the verdict and its reason', async () => {
    for (const [user, kind] of [
      [id(5), 'deleted'],
      [id(123456), 'not_found'],
      [LONELY, 'no_activity'],
    ] as const) {
      const run = await explain(user);
      expect({ user, code: run.code }).toEqual({ user, code: 0 });
      expect(run.stdout).toMatch(new RegExp(`^Verdict\\s+${kind}: \\S.*$`, 'm'));
      expect((await explainJson(user)).verdict?.kind).toBe(kind);
    }
    const notFound = await explain(id(123456));
    expect(notFound.stdout).toContain(`Verdict  not_found: no user has the id ${id(123456)}`);
    expect(notFound.stdout).toContain('Actions: none');
  });

  it('a window option changes the verdict: a longer look-back reaches the action', async () => {
    const run = await explain(id(12), '--lookback-hours', '49', '--json', '--quiet');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).verdict).toMatchObject({ kind: 'in_audience', audienceType: 'wishlist_adders' });
  });

  it('bad usage: a bad user id, a bad value, a missing id, an unknown flag: exit 2', async () => {
    const badId = await explain('nobody', '--quiet');
    expect(badId.code).toBe(2);
    expect(lines(badId.stderr)).toHaveLength(1);
    expect(badId.stderr).toMatch(/userId must be a UUID .*got "nobody" \[INVALID_OPTION\]/);
    const badValue = await explain(id(1), '--cooling-hours', 'soon', '--quiet');
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toMatch(/coolingHours .*got "soon"/);
    const missing = await cli(['explain', '--database-url', url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/explain needs a user id/);
    const flag = await explain(id(1), '--out', '/tmp');
    expect(flag.code).toBe(2);
    expect(lines(flag.stderr)).toEqual(['audience-engine explain: unknown option --out; run audience-engine explain --help']);
  });

  it('an unreachable database: exit 1, no password', async () => {
    const port = await closedPort();
    const badUrl = `postgres://cli_user:${PASSWORD}@127.0.0.1:${port}/nowhere`;
    const run = await cli(['explain', id(1), '--database-url', badUrl, '--acquire-timeout-ms', '1500', '--quiet']);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/\[DATABASE_UNREACHABLE\]/);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });
});

describe('compare', () => {
  it('delegates to the V1/V2 comparison (its help and its usage errors)', async () => {
    const help = await cli(['compare', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Runs the V1 Python script and the V2 native generator');
    // Its modes: by default each engine at its default rules (V1 production's, V2 the contract),
    // explained; --rules v1|v2 for the same rules, byte for byte.
    expect(help.stdout).toMatch(/^ {2}\(default\) +each engine under its default rules: V1 under the production script's \(v1\),$/m);
    expect(help.stdout).toMatch(/^ {2}--rules v1\|v2 +V1 and V2 under the same rules: the files must be the same, byte for byte$/m);
    const bad = await cli(['compare', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown argument "--bogus"/);
  });
});

describe('Ctrl-C', () => {
  const engineWaitingOnOffers = () =>
    withClient(url, async (c) => {
      const { rows } = await c.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'audience-engine' AND datname = current_database() AND state = 'active' AND query LIKE '%FROM offers%'",
      );
      return rows.length > 0;
    });

  it.each([
    ['generate', ['generate', 'layer3-behavior']],
    ['explain', ['explain', id(1)]],
  ])('cancels %s on the server, writes nothing and exits 1', async (_command, args) => {
    const lock = await openClient(url);
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE offers IN ACCESS EXCLUSIVE MODE');
    const out = tmp();
    try {
      const child = spawn(process.execPath, [BIN, ...args, '--database-url', url, ...window, ...(args[0] === 'generate' ? ['--out', out] : [])], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      const deadline = Date.now() + 20_000;
      while (!(await engineWaitingOnOffers())) {
        if (Date.now() > deadline) throw new Error(`the ${args[0]} query never waited on the lock; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGINT');
      expect(await closed).toBe(1);
      expect(stderr).toContain('audience-engine: interrupted; cancelling the run');
      expect(stderr).toMatch(new RegExp(`^audience-engine ${args[0]}: .*\\[CANCELLED\\]`, 'm'));
      expect(stdout).toBe('');
      expect(await engineWaitingOnOffers()).toBe(false);
      expect(fs.readdirSync(out)).toEqual([]);
    } finally {
      await lock.query('ROLLBACK');
      await lock.end();
    }
  });
});

describe('progress on a terminal', () => {
  it('draws a spinner line for the running phase, replaced by a ✓ line with the end message', async () => {
    const { Progress } = await import('../ts/cli');
    let stderr = '';
    const progress = new Progress({ stdout: () => {}, stderr: (t) => (stderr += t), env: { NO_COLOR: '1' }, isTTY: true }, true);
    const event = (message: string, phase: string | null, elapsedMs: number, phaseMs: number | null) =>
      progress.onLog({ level: 'info', message: `[layer3-behavior] ${message}`, phase, elapsedMs, phaseMs });
    event('demand: counting all-time demand for the picked variants', 'demand', 100, null);
    await new Promise((r) => setTimeout(r, 250));
    event('demand: a note within the phase', 'demand', 300, null);
    event('demand: done in 412.3 ms: 4380 of 5233 users pass', 'demand', 512.4, 412.3);
    event('finished in 600.0 ms: 4380 rows in 6 files', null, 600, null);
    progress.onLog({ level: 'error', message: '[layer3-behavior] failed after 1 ms: X', phase: null, elapsedMs: 601, phaseMs: null });
    progress.stop();

    const screen = stderr.split('\n').map((line) => line.split('\r').filter((s) => s.replace(/\x1b\[2K/g, '').trim()).at(-1)?.replace(/\x1b\[2K/g, '') ?? '');
    expect(stderr).toMatch(/\r\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+0\.\ds {2}demand: counting all-time demand for the picked variants \(0\.\ds\)/);
    expect(screen).toEqual([
      '·    0.3s  demand: a note within the phase',
      '✓    0.5s  demand: done in 412.3 ms: 4380 of 5233 users pass',
      '·    0.6s  finished in 600.0 ms: 4380 rows in 6 files',
      '',
      '',
    ]);
    expect(stderr).not.toContain('failed after');
  });
});
