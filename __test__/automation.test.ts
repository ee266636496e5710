// The V1/V2 switch (`audience-engine/automation`): routing by AUTOMATION_ENGINE_VERSION, the log
// lines operators grep for, the parameter mapping, each engine's default rules (V1 production's,
// V2 the contract's) and `config.rules`, and failures of both engines.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  executeAudienceGeneration,
  V2GeneratorError,
  type Automation,
  type AutomationEngineConfig,
  type AudienceGenerationResult,
} from '../ts/automation';
import { generate, shutdown } from '../ts/index';
import { V1ScriptError } from '../ts/v1-executor';
import { readCsv } from './helpers/csv';
import { createTestDatabase, Fixture, HOUR, id, ROOT } from './helpers/db';

const AS_OF = new Date('2024-06-10T12:00:00Z');
const at = (hoursBefore: number) => new Date(AS_OF.getTime() - hoursBefore * HOUR);

const U_OFFER = id(1); // offer at asOf-13h: in the default window [asOf-36h, asOf-12h)
const U_OLD_WISH = id(2); // wishlist add at asOf-40h: only in a longer window
const U_RECENT_CLOSET = id(3); // closet add at asOf-6h: only with less cooling (no size: production's rules drop it)
const U_COOLING = id(4); // a complete profile, offer at asOf-1h: in the cooling period, so in production's audience only
const HOLDER = id(90);
const V_HOT = id(101);

// Who is in the audience by default: V1 runs production's rules (the cooling period counts,
// incomplete profiles are dropped), V2 the contract.
const V1_DEFAULT_USERS = [U_OFFER, U_COOLING].sort();
const CONTRACT_USERS = [U_OFFER];

const V1_LOG = '[AutomationEngine] Using V1 Python script executor for';
const V2_LOG = '[AutomationEngine] Using V2 native generator for';

let url: string;
let python: string;
let scratch: string;

interface Captured {
  logger: Required<NonNullable<AutomationEngineConfig['logger']>>;
  info: string[];
  warn: string[];
  error: string[];
  all: () => string[];
}

function capture(): Captured {
  const info: string[] = [];
  const warn: string[] = [];
  const error: string[] = [];
  return {
    logger: { info: (m) => info.push(m), warn: (m) => warn.push(m), error: (m) => error.push(m) },
    info,
    warn,
    error,
    all: () => [...info, ...warn, ...error],
  };
}

function freshDir(): string {
  return fs.mkdtempSync(path.join(scratch, 'out-'));
}

function automation(scriptId: string, parameters?: { lookback_hours?: number; cooling_hours?: number }, automationId = 'auto-1'): Automation {
  return { id: automationId, audienceCriteria: { customScript: { scriptId, ...(parameters ? { parameters } : {}) } } };
}

function config(logs: Captured, extra: Partial<AutomationEngineConfig> = {}): AutomationEngineConfig {
  return { databaseUrl: url, asOf: AS_OF, outputDir: freshDir(), pythonPath: python, logger: logs.logger, env: {}, ...extra };
}

/** A process that no longer runs (gone, or a zombie waiting for a reaper). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return true;
  }
}

function usersIn(result: AudienceGenerationResult): string[] {
  return result.csvPaths.flatMap((file) => readCsv(file).rows.map((r) => r.user_id)).sort();
}

/** A stand-in V1 script: records its argv and environment, then behaves as `mode` says. */
function stubScript(dir: string, name: string, body: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.py`);
  fs.writeFileSync(file, `import json, os, sys, time, subprocess\n${body}\n`);
  return file;
}

const RECORDING_STUB = `
args = sys.argv[1:]
opts = dict(zip(args[0::2], args[1::2]))
out = opts['--output-dir']
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, 'invocation.json'), 'w') as f:
    json.dump({'argv': args, 'databaseUrl': os.environ.get('DATABASE_URL'), 'asOfEnv': os.environ.get('AS_OF')}, f)
prod = os.path.join(out, 'custom_20240610T120000.csv')
test = os.path.join(out, 'custom_TEST_20240610T120000.csv')
for path in (prod, test):
    with open(path, 'w') as f:
        f.write('user_id\\nabc\\n')
print('some progress on stdout')
print(json.dumps({'success': True, 'audienceSize': 1, 'csvFiles': [
    {'path': prod, 'rowCount': 1, 'isTestFile': False, 'audienceType': 'custom'},
    {'path': test, 'rowCount': 1, 'isTestFile': True, 'audienceType': 'custom'}]}))
`;

beforeAll(async () => {
  python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-automation-'));
  url = await createTestDatabase('automation_routing');
  const { fixture, close } = await Fixture.open(url);
  try {
    await fixture.product('Hot, "Sneaker"', [{ id: V_HOT, indexCache: { mens_size: '10' } }]);
    await fixture.user({ id: HOLDER });
    await fixture.stock(HOLDER, V_HOT, 5);
    await fixture.wanted(HOLDER, V_HOT, 3);
    await fixture.user({ id: U_OFFER, sizes: [{ value: '11' }] });
    await fixture.offer(U_OFFER, at(13), [[id(1001), V_HOT]]);
    await fixture.user({ id: U_OLD_WISH });
    await fixture.wishlist(U_OLD_WISH, V_HOT, at(40));
    await fixture.user({ id: U_RECENT_CLOSET });
    await fixture.inventory(U_RECENT_CLOSET, V_HOT, at(6));
    await fixture.user({ id: U_COOLING, firstName: 'Cole', sizes: [{ value: '9' }] });
    await fixture.offer(U_COOLING, at(1), [[id(1004), V_HOT]]);
  } finally {
    await close();
  }
}, 180_000);

afterAll(async () => {
  await shutdown();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('routing by AUTOMATION_ENGINE_VERSION', () => {
  test('unset -> V1 (the Python script, production\'s rules), with its log line', async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(logs, { env: {} }));
    expect(logs.info).toContain(`${V1_LOG} generate_layer_3_push_csvs`);
    expect(logs.info.some((m) => m.startsWith(V2_LOG))).toBe(false);
    // The Python script's own stderr lines come through the logger; the Rust generator's do not.
    expect(logs.info.some((m) => m.startsWith('[generate_layer_3_push_csvs]'))).toBe(true);
    expect(logs.info.some((m) => m.startsWith('[layer3-behavior]'))).toBe(false);
    expect(result.success).toBe(true);
    // Production's rules: only the offer creators have rows (the closet add is a user without a
    // size), and an empty audience gets no file.
    expect(result.csvPaths.map((p) => path.basename(p).replace(/_\d{8}T.*$/, ''))).toEqual(['recent-offer-creators']);
    expect(result.testCsvPaths).toHaveLength(1);
    expect(result.testCsvPaths.every((p) => /_TEST_/.test(p))).toBe(true);
    expect(result.csvPaths.some((p) => /_TEST_/.test(p))).toBe(false);
    expect(result.audienceSize).toBe(2);
    expect(usersIn(result)).toEqual(V1_DEFAULT_USERS);
    // The same route under the contract's rules writes all six files.
    const contract = await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(capture(), { env: {}, rules: 'v2' }));
    expect(contract.csvPaths).toHaveLength(3);
    expect(contract.testCsvPaths).toHaveLength(3);
    expect(usersIn(contract)).toEqual(CONTRACT_USERS);
  });

  test('empty AUTOMATION_ENGINE_VERSION -> V1', async () => {
    const logs = capture();
    await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(logs, { env: { AUTOMATION_ENGINE_VERSION: '' } }));
    expect(logs.info).toContain(`${V1_LOG} generate_layer_3_push_csvs`);
    expect(logs.warn).toEqual([]);
  });

  test('v1 -> V1', async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(
      automation('generate_layer_3_push_csvs'),
      config(logs, { env: { AUTOMATION_ENGINE_VERSION: 'v1' } }),
    );
    expect(logs.info).toContain(`${V1_LOG} generate_layer_3_push_csvs`);
    expect(logs.info.some((m) => m.startsWith(V2_LOG))).toBe(false);
    expect(logs.warn).toEqual([]);
    expect(usersIn(result)).toEqual(V1_DEFAULT_USERS);
  });

  test('v2 + layer3-behavior -> V2 (the Rust generator), with its log line', async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(automation('layer3-behavior'), config(logs, { env: { AUTOMATION_ENGINE_VERSION: 'v2' } }));
    expect(logs.info).toContain(`${V2_LOG} layer3-behavior`);
    expect(logs.info.some((m) => m.startsWith(V1_LOG))).toBe(false);
    expect(logs.info.some((m) => m.startsWith('[layer3-behavior]'))).toBe(true);
    expect(logs.info.some((m) => m.startsWith('[generate_layer_3_push_csvs]'))).toBe(false);
    expect(result.success).toBe(true);
    expect(result.csvPaths).toHaveLength(3);
    expect(result.testCsvPaths).toHaveLength(3);
    expect(result.testCsvPaths.every((p) => /_TEST_/.test(p))).toBe(true);
    expect(result.audienceSize).toBe(1);
    expect(usersIn(result)).toEqual([U_OFFER]);
  });

  test('v2 + generate_layer_3_push_csvs (legacy id) -> V2', async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(
      automation('generate_layer_3_push_csvs'),
      config(logs, { env: { AUTOMATION_ENGINE_VERSION: 'v2' } }),
    );
    expect(logs.info).toContain(`${V2_LOG} generate_layer_3_push_csvs`);
    expect(logs.info.some((m) => m.startsWith(V1_LOG))).toBe(false);
    expect(logs.info.some((m) => m.startsWith('[layer3-behavior]'))).toBe(true);
    expect(usersIn(result)).toEqual([U_OFFER]);
  });

  test('V2 (upper case, spaces) is accepted as v2', async () => {
    const logs = capture();
    await executeAudienceGeneration(automation('layer3-behavior'), config(logs, { env: { AUTOMATION_ENGINE_VERSION: ' V2 ' } }));
    expect(logs.info).toContain(`${V2_LOG} layer3-behavior`);
    expect(logs.warn).toEqual([]);
  });

  test('v2 + an unknown script id -> V1 (the script of that name), parameters passed as flags', async () => {
    const logs = capture();
    const scriptsDir = path.join(scratch, 'stub-recording');
    stubScript(scriptsDir, 'custom_audience', RECORDING_STUB);
    const outputDir = freshDir();
    const result = await executeAudienceGeneration(
      automation('custom_audience', { lookback_hours: 72, cooling_hours: 6 }, 'auto-42'),
      config(logs, { env: { AUTOMATION_ENGINE_VERSION: 'v2' }, scriptsDir, outputDir }),
    );
    expect(logs.info).toContain(`${V1_LOG} custom_audience`);
    expect(logs.info.some((m) => m.startsWith(V2_LOG))).toBe(false);
    expect(logs.warn.some((m) => m.includes('custom_audience'))).toBe(true);
    expect(result).toEqual({
      success: true,
      csvPaths: [path.join(outputDir, 'custom_20240610T120000.csv')],
      testCsvPaths: [path.join(outputDir, 'custom_TEST_20240610T120000.csv')],
      audienceSize: 1,
    });
    const invocation = JSON.parse(fs.readFileSync(path.join(outputDir, 'invocation.json'), 'utf8'));
    expect(invocation.argv).toEqual([
      '--lookback-hours',
      '72',
      '--cooling-hours',
      '6',
      '--output-dir',
      outputDir,
      '--automation-id',
      'auto-42',
      '--as-of',
      AS_OF.toISOString(),
    ]);
    expect(invocation.databaseUrl).toBe(url);
  });

  test('v3 -> a warning naming the value, then V1', async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(
      automation('generate_layer_3_push_csvs'),
      config(logs, { env: { AUTOMATION_ENGINE_VERSION: 'v3' } }),
    );
    expect(logs.warn).toHaveLength(1);
    expect(logs.warn[0]).toContain('"v3"');
    expect(logs.warn[0]).toContain('AUTOMATION_ENGINE_VERSION');
    expect(logs.info).toContain(`${V1_LOG} generate_layer_3_push_csvs`);
    expect(logs.info.some((m) => m.startsWith(V2_LOG))).toBe(false);
    expect(usersIn(result)).toEqual(V1_DEFAULT_USERS);
  });

  test('config.engineVersion overrides the environment', async () => {
    const toV1 = capture();
    await executeAudienceGeneration(
      automation('layer3-behavior'),
      config(toV1, { env: { AUTOMATION_ENGINE_VERSION: 'v2' }, engineVersion: 'v1', scriptsDir: path.join(scratch, 'stub-l3'), }),
    ).catch(() => undefined); // there is no layer3-behavior.py: only the routing matters here
    expect(toV1.info).toContain(`${V1_LOG} layer3-behavior`);

    const toV2 = capture();
    await executeAudienceGeneration(automation('layer3-behavior'), config(toV2, { env: { AUTOMATION_ENGINE_VERSION: 'v1' }, engineVersion: 'v2' }));
    expect(toV2.info).toContain(`${V2_LOG} layer3-behavior`);
  });

  test('process.env is read on each call (switch and roll back without a restart)', async () => {
    const saved = process.env.AUTOMATION_ENGINE_VERSION;
    try {
      process.env.AUTOMATION_ENGINE_VERSION = 'v2';
      const first = capture();
      await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(first, { env: undefined }));
      expect(first.info).toContain(`${V2_LOG} generate_layer_3_push_csvs`);

      process.env.AUTOMATION_ENGINE_VERSION = 'v1';
      const second = capture();
      await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(second, { env: undefined }));
      expect(second.info).toContain(`${V1_LOG} generate_layer_3_push_csvs`);

      delete process.env.AUTOMATION_ENGINE_VERSION;
      const third = capture();
      await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(third, { env: undefined }));
      expect(third.info).toContain(`${V1_LOG} generate_layer_3_push_csvs`);
    } finally {
      if (saved === undefined) delete process.env.AUTOMATION_ENGINE_VERSION;
      else process.env.AUTOMATION_ENGINE_VERSION = saved;
    }
  });

  test('an automation without a custom script rejects', async () => {
    const logs = capture();
    await expect(executeAudienceGeneration({ id: 7 }, config(logs))).rejects.toThrow(/automation 7 has no audienceCriteria\.customScript\.scriptId/);
  });
});

describe('parameter mapping', () => {
  // Under the contract's rules (config.rules 'v2', both engines): the default window
  // [asOf-36h, asOf-12h) holds only U_OFFER; lookback 48 / cooling 2 gives [asOf-46h, asOf-2h),
  // which also holds U_OLD_WISH (-40h) and U_RECENT_CLOSET (-6h), not U_COOLING (-1h).
  const custom = { lookback_hours: 48, cooling_hours: 2 };
  const everyone = [U_OFFER, U_OLD_WISH, U_RECENT_CLOSET].sort();

  for (const version of ['v1', 'v2']) {
    test(`${version}: default hours (48/12) when the parameters are absent`, async () => {
      const logs = capture();
      const result = await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(logs, { engineVersion: version, rules: 'v2' }));
      expect(usersIn(result)).toEqual([U_OFFER]);
      const noParams = await executeAudienceGeneration(
        { id: 'x', audienceCriteria: { customScript: { scriptId: 'generate_layer_3_push_csvs', parameters: {} } } },
        config(capture(), { engineVersion: version, rules: 'v2' }),
      );
      expect(usersIn(noParams)).toEqual([U_OFFER]);
    });

    test(`${version}: lookback_hours/cooling_hours from the parameters`, async () => {
      const logs = capture();
      const result = await executeAudienceGeneration(automation('generate_layer_3_push_csvs', custom), config(logs, { engineVersion: version, rules: 'v2' }));
      expect(usersIn(result)).toEqual(everyone);
      expect(result.audienceSize).toBe(3);
    });
  }

  test('v2: automationId, hours and asOf reach the generator (its start log and window)', async () => {
    const logs = capture();
    const outputDir = freshDir();
    const result = await executeAudienceGeneration(
      automation('layer3-behavior', { lookback_hours: 30, cooling_hours: 6 }, 'auto-v2'),
      config(logs, { engineVersion: 'v2', outputDir }),
    );
    // Window [asOf-24h, asOf-6h): U_OFFER (-13h) and U_RECENT_CLOSET (-6h is the excluded end).
    expect(usersIn(result)).toEqual([U_OFFER]);
    expect(result.csvPaths.every((p) => path.dirname(p) === outputDir)).toBe(true);
    const text = logs.info.join('\n');
    expect(text).toContain('2024-06-09T12:00:00');
    expect(text).toContain('2024-06-10T06:00:00');
  });

  test('outputDir defaults to .script-outputs (relative to the working directory)', async () => {
    const cwd = process.cwd();
    const dir = fs.mkdtempSync(path.join(scratch, 'cwd-'));
    process.chdir(dir);
    try {
      const result = await executeAudienceGeneration(
        automation('layer3-behavior'),
        { databaseUrl: url, asOf: AS_OF, engineVersion: 'v2', logger: capture().logger, env: {} },
      );
      expect(result.csvPaths.every((p) => path.dirname(p) === path.join(fs.realpathSync(dir), '.script-outputs') || path.dirname(p) === path.join(dir, '.script-outputs'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('rules: each engine\'s default, or config.rules for both', () => {
  const run = (engineVersion: string, rules?: 'v1' | 'v2') =>
    executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(capture(), { engineVersion, ...(rules ? { rules } : {}) }));
  /** The production files by prefix (`recent-offer-creators`), their text. */
  const production = (result: AudienceGenerationResult) =>
    Object.fromEntries(result.csvPaths.map((p) => [path.basename(p).replace(/_\d{8}T.*$/, ''), fs.readFileSync(p, 'utf8')]));

  test('without config.rules V1 follows production and V2 the contract: a user who acted only in the cooling period is in V1\'s audience, not in V2\'s', async () => {
    const [v1, v2] = [await run('v1'), await run('v2')];
    expect(usersIn(v1)).toContain(U_COOLING);
    expect(usersIn(v2)).not.toContain(U_COOLING);
    expect(usersIn(v1)).toEqual(V1_DEFAULT_USERS);
    expect(usersIn(v2)).toEqual(CONTRACT_USERS);
    // Production's files: CRLF, and no file for an empty audience; the contract's: LF, all three.
    expect(Object.keys(production(v1))).toEqual(['recent-offer-creators']);
    expect(production(v1)['recent-offer-creators']).toMatch(/\r\n$/);
    expect(Object.keys(production(v2)).sort()).toEqual(['recent-closet-adders', 'recent-offer-creators', 'recent-wishlist-adders']);
    expect(production(v2)['recent-offer-creators']).not.toContain('\r\n');
  });

  test.each<['v1' | 'v2', string[]]>([
    ['v1', V1_DEFAULT_USERS],
    ['v2', CONTRACT_USERS],
  ])('config.rules %s runs both engines under those rules: the same production files, byte for byte', async (rules, users) => {
    const [v1, v2] = [await run('v1', rules), await run('v2', rules)];
    expect(usersIn(v1)).toEqual(users);
    expect(production(v2)).toEqual(production(v1));
  });
});

describe('failures', () => {
  test('a failing V2 run rejects with the generator message (no fallback to V1)', async () => {
    const logs = capture();
    const bad = { lookback_hours: 10, cooling_hours: 12 };
    const direct = await generate('layer3-behavior', { lookbackHours: 10, coolingHours: 12, databaseUrl: url, onLog: () => undefined });
    expect(direct.success).toBe(false);
    expect(direct.error).toBeTruthy();
    const outputDir = freshDir();
    const error: Error = await executeAudienceGeneration(automation('layer3-behavior', bad), config(logs, { engineVersion: 'v2', outputDir })).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain(direct.error as string);
    expect(error.message).toContain('INVALID_OPTION');
    expect((error as Error & { code?: string }).code).toBe('INVALID_OPTION');
    expect(logs.info.some((m) => m.startsWith(V1_LOG))).toBe(false);
    expect(fs.readdirSync(outputDir)).toEqual([]);
  });

  test('with config.env and no databaseUrl, V2 does not fall back to process.env.DATABASE_URL', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = url;
    try {
      const error: Error & { code?: string } = await executeAudienceGeneration(
        automation('layer3-behavior'),
        config(capture(), { engineVersion: 'v2', databaseUrl: undefined, env: {} }),
      ).then(
        () => {
          throw new Error('expected a rejection');
        },
        (e) => e,
      );
      expect(error.code).toBe('NO_DATABASE_URL');
      // The URL from config.env is used.
      const result = await executeAudienceGeneration(
        automation('layer3-behavior'),
        config(capture(), { engineVersion: 'v2', databaseUrl: undefined, env: { DATABASE_URL: url } }),
      );
      expect(usersIn(result)).toEqual([U_OFFER]);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });

  test('a V2 run against an unreachable database rejects and never prints the password', async () => {
    const logs = capture();
    const secretUrl = 'postgres://postgres:V2-sup3r-s3cret@127.0.0.1:1/nowhere';
    const error: Error = await executeAudienceGeneration(
      automation('layer3-behavior'),
      config(logs, { engineVersion: 'v2', databaseUrl: secretUrl }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error.message).toMatch(/V2 native generator for layer3-behavior failed/);
    expect(error.message).not.toContain('V2-sup3r-s3cret');
    expect(logs.all().join('\n')).not.toContain('V2-sup3r-s3cret');
  }, 60_000);

  test('a failing V1 script rejects with its exit code and stderr tail, password redacted', async () => {
    const logs = capture();
    const scriptsDir = path.join(scratch, 'stub-failing');
    stubScript(
      scriptsDir,
      'failing_script',
      `for i in range(1, 31):\n    print(f"line {i}", file=sys.stderr)\nprint("could not connect to " + os.environ["DATABASE_URL"], file=sys.stderr)\nsys.exit(1)`,
    );
    const secretUrl = 'postgres://audience:hunter2-secret@db.example:5432/marketplace';
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('failing_script'),
      config(logs, { engineVersion: 'v1', scriptsDir, databaseUrl: secretUrl }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error).toBeInstanceOf(V1ScriptError);
    expect(error.kind).toBe('failed');
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/V1 script failing_script .* failed with exit code 1/);
    expect(error.message).toContain('line 30');
    expect(error.message).toContain('could not connect to postgres://audience:***@db.example:5432/marketplace');
    expect(error.message).not.toMatch(/line 1\n/); // only the tail
    expect(error.message).not.toContain('hunter2-secret');
    expect(logs.all().join('\n')).not.toContain('hunter2-secret');
  });

  test('the real V1 script failing on an unreachable database rejects with its stderr (no password)', async () => {
    const logs = capture();
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('generate_layer_3_push_csvs'),
      config(logs, { engineVersion: 'v1', databaseUrl: 'postgres://postgres:V1-sup3r-s3cret@127.0.0.1:1/nowhere' }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error).toBeInstanceOf(V1ScriptError);
    expect(error.exitCode).toBe(1);
    expect(error.stderrTail).toContain('[generate_layer_3_push_csvs] error:');
    expect(error.message).toContain('[generate_layer_3_push_csvs] error:');
    expect(error.message).not.toContain('V1-sup3r-s3cret');
  });

  test('bad input to the V1 script (exit 2) rejects with its message', async () => {
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('generate_layer_3_push_csvs', { lookback_hours: 10, cooling_hours: 12 }),
      config(capture(), { engineVersion: 'v1' }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('--cooling-hours must be < --lookback-hours');
  });

  test('a V1 script that runs too long is killed with its process group and rejects as a timeout', async () => {
    const scriptsDir = path.join(scratch, 'stub-slow');
    const pidFile = path.join(scratch, 'grandchild.pid');
    stubScript(
      scriptsDir,
      'slow_script',
      `child = subprocess.Popen(["sleep", "60"])\nopen(${JSON.stringify(pidFile)}, "w").write(str(child.pid))\nprint("started, sleeping", file=sys.stderr, flush=True)\ntime.sleep(60)`,
    );
    const started = Date.now();
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('slow_script'),
      config(capture(), { engineVersion: 'v1', scriptsDir, timeoutMs: 1500 }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error.kind).toBe('timeout');
    expect(error.message).toMatch(/timed out after 1500 ms/);
    expect(error.message).toContain('started, sleeping');
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 300));
    expect(isGone(grandchild)).toBe(true); // the whole group is gone
  });

  test('a missing V1 script rejects saying so', async () => {
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('no_such_script'),
      config(capture(), { engineVersion: 'v1', scriptsDir: path.join(scratch, 'empty-scripts') }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error.kind).toBe('missing_script');
    expect(error.message).toMatch(/V1 script no_such_script not found: .*no_such_script\.py does not exist/);
  });

  test('a missing python rejects saying so', async () => {
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('generate_layer_3_push_csvs'),
      config(capture(), { engineVersion: 'v1', pythonPath: path.join(scratch, 'no-python') }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error.kind).toBe('spawn_failed');
    expect(error.message).toMatch(/could not be started: .*ENOENT/);
  });

  test('a V1 script that exits 0 without a JSON result rejects saying so', async () => {
    const scriptsDir = path.join(scratch, 'stub-silent');
    stubScript(scriptsDir, 'silent_script', 'print("done, no json")\nprint("oops", file=sys.stderr)');
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('silent_script'),
      config(capture(), { engineVersion: 'v1', scriptsDir }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error.kind).toBe('bad_output');
    expect(error.message).toMatch(/last stdout line is not a valid JSON result/);
    expect(error.message).toContain('done, no json');
  });

  test('without pythonPath or AUDIENCE_ENGINE_PYTHON the package .venv python runs the script', async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(logs, { engineVersion: 'v1', pythonPath: undefined, env: {} }));
    expect(usersIn(result)).toEqual(V1_DEFAULT_USERS);
  });

  test('the python comes from AUDIENCE_ENGINE_PYTHON when config.pythonPath is absent', async () => {
    const error: V1ScriptError = await executeAudienceGeneration(
      automation('generate_layer_3_push_csvs'),
      config(capture(), { engineVersion: 'v1', pythonPath: undefined, env: { AUDIENCE_ENGINE_PYTHON: '/nonexistent/python-from-env' } }),
    ).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e) => e,
    );
    expect(error.message).toContain('/nonexistent/python-from-env');
  });
});

describe('integration details', () => {
  const rejection = <T>(promise: Promise<T>): Promise<Error> =>
    promise.then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: Error) => e,
    );
  const SECRET = 'Hunter2Secret';
  const secretUrl = `postgres://postgres:${SECRET}@db.internal:5432/market`;

  test('values echoed in warnings and errors never show a password', async () => {
    const logs = capture();
    // A swapped variable, a URL as the script id, and an automation without a script.
    await executeAudienceGeneration(automation('layer3-behavior'), config(logs, { engineVersion: secretUrl }));
    const asScript = await rejection(executeAudienceGeneration(automation(secretUrl), config(logs, { engineVersion: 'v2' })));
    const noScript = await rejection(executeAudienceGeneration({ id: secretUrl }, config(logs)));
    expect(logs.warn.join('\n')).toContain('postgres://postgres:***@db.internal:5432/market');
    for (const text of [...logs.all(), asScript.message, noScript.message]) expect(text).not.toContain(SECRET);
  });

  test('V1 never prints a password from a mistyped or unencoded database URL', async () => {
    for (const databaseUrl of [`postgres:/postgres:${SECRET}@127.0.0.1:1/db`, `postgres://postgres:Hu@nter2Secret@127.0.0.1:1/db`, `postgres://postgres:Hun/ter2Secret@127.0.0.1:1/db`]) {
      const logs = capture();
      const error = await rejection(executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(logs, { engineVersion: 'v1', databaseUrl })));
      for (const text of [...logs.all(), error.message]) {
        expect({ databaseUrl, text }).toEqual({ databaseUrl, text: expect.not.stringMatching(/Hunter2Secret|nter2Secret|ter2Secret/) });
      }
    }
  });

  test('a failed V2 run rejects with a V2GeneratorError carrying the code', async () => {
    const error = await rejection(
      executeAudienceGeneration(automation('layer3-behavior', { lookback_hours: 10, cooling_hours: 12 }), config(capture(), { engineVersion: 'v2' })),
    );
    expect(error).toBeInstanceOf(V2GeneratorError);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', engine: 'v2', name: 'V2GeneratorError' });
  });

  test("a generator's V2 name rolls back to its legacy script under v1", async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(automation('layer3-behavior'), config(logs, { engineVersion: 'v1' }));
    expect(result.success).toBe(true);
    expect(logs.info).toContain(`${V1_LOG} layer3-behavior`);
    expect(usersIn(result)).toContain(U_OFFER);
  });

  test('V1 without a logger prints its progress on the console, as V2 does', async () => {
    const printed: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((m: unknown) => void printed.push(String(m)));
    try {
      const { logger: _unused, ...rest } = config(capture(), { engineVersion: 'v1' });
      await executeAudienceGeneration(automation('generate_layer_3_push_csvs'), rest);
    } finally {
      spy.mockRestore();
    }
    expect(printed.some((m) => m.startsWith(V1_LOG))).toBe(true);
    expect(printed.some((m) => m.startsWith('[generate_layer_3_push_csvs]'))).toBe(true);
  });

  test('a bad V1 timeoutMs is refused, not a kill at once', async () => {
    for (const timeoutMs of [Number.NaN, 0, -5, 2 ** 31 + 10, 1.5]) {
      const error = await rejection(executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(capture(), { engineVersion: 'v1', timeoutMs })));
      expect(error.message).toContain(`timeoutMs must be a whole number of milliseconds from 1 to 2147483647, got ${timeoutMs}`);
    }
  });

  test('a signal cancels a V1 run (its process group is killed) and a V2 run', async () => {
    const scriptsDir = path.join(scratch, 'stub-cancel');
    stubScript(scriptsDir, 'slow_cancel', 'print("started", file=sys.stderr, flush=True)\ntime.sleep(60)');
    const controller = new AbortController();
    const logs = capture();
    const pending = rejection(executeAudienceGeneration(automation('slow_cancel'), config(logs, { engineVersion: 'v1', scriptsDir, signal: controller.signal })));
    for (let i = 0; i < 100 && !logs.info.includes('started'); i += 1) await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    controller.abort();
    const v1 = (await pending) as V1ScriptError;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(v1).toBeInstanceOf(V1ScriptError);
    expect(v1.kind).toBe('cancelled');
    const v2 = await rejection(executeAudienceGeneration(automation('layer3-behavior'), config(capture(), { engineVersion: 'v2', signal: AbortSignal.abort() })));
    expect(v2).toMatchObject({ code: 'CANCELLED' });
  });

  test('an abort after the V1 script finished is too late: the run succeeds, and what it left running is killed', async () => {
    const scriptsDir = path.join(scratch, 'stub-finished');
    // Leaves a child holding stdout open, so 'close' waits for it, and exits 0 with a result.
    stubScript(
      scriptsDir,
      'finished_script',
      'subprocess.Popen(["sleep", "60"])\nprint(json.dumps({"success": True, "csvFiles": [], "audienceSize": 0}), flush=True)',
    );
    const controller = new AbortController();
    const started = Date.now();
    const pending = executeAudienceGeneration(automation('finished_script'), config(capture(), { engineVersion: 'v1', scriptsDir, signal: controller.signal }));
    setTimeout(() => controller.abort(), 1500);
    expect(await pending).toMatchObject({ success: true, audienceSize: 0 });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('an automation id longer than V2 records is cut, with a warning, not refused', async () => {
    const logs = capture();
    const result = await executeAudienceGeneration(automation('layer3-behavior', undefined, 'x'.repeat(250)), config(logs, { engineVersion: 'v2' }));
    expect(result.success).toBe(true);
    expect(logs.warn).toContain('[AutomationEngine] automation id longer than 200 characters: V2 records its first 200');
  });

  test('two V1 runs at once into one directory both succeed (a set that meets a taken name moves to -2, as with V2)', async () => {
    const outputDir = freshDir();
    // The contract's rules, so that each set has all six files.
    const runs = await Promise.all([1, 2].map(() => executeAudienceGeneration(automation('generate_layer_3_push_csvs'), config(capture(), { engineVersion: 'v1', outputDir, rules: 'v2' }))));
    const names = runs.flatMap((r) => r.csvPaths.map((p) => path.basename(p)));
    expect(new Set(names).size).toBe(6);
    expect(fs.readdirSync(outputDir)).toHaveLength(12);
  });
});
