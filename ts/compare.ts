// Runs V1 (the Python script) and V2 (the Rust generator) on the same database and as-of time,
// into separate directories, and compares their production CSV files audience by audience.
// This is the rollout's "compare the CSV outputs" step (`npm run compare`).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { explainUserIn, generateIn, listGenerators } from './engine';
import type { CsvFile, ExplainedAction, ExplainResult, GeneratorInfo, LogEvent } from './types';
import { DEFAULT_COOLING_HOURS, DEFAULT_LOOKBACK_HOURS, type AutomationLogger } from './automation';
import { redactSecrets } from './redact';
import { runV1Script, V1ScriptError } from './v1-executor';

export const DEFAULT_COMPARE_SCRIPT_ID = 'generate_layer_3_push_csvs';

export interface CompareOptions {
  /** Default: `env.DATABASE_URL`. */
  databaseUrl?: string;
  /** The "now" of both runs. Default: the current time, fixed once for both runs. */
  asOf?: Date | string;
  lookbackHours?: number;
  coolingHours?: number;
  /**
   * The own options of a generator other than Layer 3 (Layer 5: `minHours`, `maxDays`); default:
   * its defaults.
   */
  generatorOptions?: Record<string, number>;
  /** The V1 script id, also the V2 generator looked up by legacy id. Default `generate_layer_3_push_csvs`. */
  scriptId?: string;
  /** V1 files go to `<outDir>/v1`, V2 files to `<outDir>/v2`. Default: a new temp dir. */
  outDir?: string;
  pythonPath?: string;
  scriptsDir?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * The row rules of both runs, passed to each engine explicitly: `'v2'` (default, the contract)
   * or `'v1'` (the production script's, contract section 9). V1 and V2 under different rules:
   * `explainCompare`.
   */
  rules?: 'v1' | 'v2';
  /** Receives progress lines of both engines. Default: none. */
  logger?: AutomationLogger;
  /** Runs after V1 and before V2 (tests use it to change the database between the runs). */
  betweenRuns?: () => Promise<void> | void;
}

export interface CellDifference {
  column: string;
  v1: string | undefined;
  v2: string | undefined;
}

export interface RowDifference {
  userId: string;
  columns: CellDifference[];
}

export interface AudienceComparison {
  audienceType: string;
  v1File: string | null;
  v2File: string | null;
  v1Header: string[] | null;
  v2Header: string[] | null;
  /** Same column names in the same order. */
  headersMatch: boolean;
  v1Rows: number;
  v2Rows: number;
  /** Users present in both whose rows are identical. */
  sameInBoth: number;
  onlyInV1: string[];
  onlyInV2: string[];
  /** Users present in both whose rows differ, with the differing columns. */
  differing: RowDifference[];
  /** The users present in both, in the same relative order in both files. */
  orderMatches: boolean;
  /** user_ids appearing more than once in a file. */
  duplicates: { v1: string[]; v2: string[] };
  /** The two production files are byte for byte the same (the contract's promise). */
  bytesIdentical: boolean;
  same: boolean;
}

export interface CompareReport {
  same: boolean;
  /** The rules both engines ran under; absent for a generator with one rule set (Layer 5). */
  rules?: 'v1' | 'v2';
  /** Its own options when the generator is not Layer 3 (Layer 5: `minHours`, `maxDays`). */
  generatorOptions?: Record<string, number>;
  asOf: string;
  lookbackHours: number;
  coolingHours: number;
  scriptId: string;
  v1Dir: string;
  v2Dir: string;
  v1AudienceSize: number;
  v2AudienceSize: number;
  audiences: AudienceComparison[];
}

/**
 * Runs both engines and compares their production files. Rejects when either run fails; a temp
 * directory it made for the files (no `outDir`) is then removed.
 */
export async function compareEngines(options: CompareOptions = {}): Promise<CompareReport> {
  const env = options.env ?? process.env;
  const databaseUrl = options.databaseUrl ?? env.DATABASE_URL;
  if (!databaseUrl) throw new Error('compare: a database URL is required (--database-url or DATABASE_URL)');
  const asOf = resolveAsOf(options.asOf);
  const lookbackHours = options.lookbackHours ?? DEFAULT_LOOKBACK_HOURS;
  const coolingHours = options.coolingHours ?? DEFAULT_COOLING_HOURS;
  const scriptId = options.scriptId ?? DEFAULT_COMPARE_SCRIPT_ID;
  const generator = await generatorOf(scriptId);
  // Both engines get the rules explicitly: their defaults differ (V1: v1, V2: v2). A generator
  // without rules (Layer 5) has one rule set: neither engine gets any.
  const takesRules = generator?.options.includes('rules') ?? true;
  const rules = options.rules ?? 'v2';
  if (rules !== 'v1' && rules !== 'v2') throw new CompareUsageError(`rules must be 'v1' or 'v2', got ${JSON.stringify(rules)}`);
  if (!takesRules && options.rules !== undefined) {
    throw new CompareUsageError(`${generator?.name} has one rule set: leave out rules (compare checks V1 = V2 byte for byte)`);
  }
  // The generator's own options: Layer 3's window, or another generator's parameters (their defaults unless given).
  const own: Record<string, number> = generator && !generator.options.includes('lookbackHours')
    ? Object.fromEntries(generator.parameters.map((p) => [p.option, options.generatorOptions?.[p.option] ?? p.default]))
    : { lookbackHours, coolingHours };
  const madeOutDir = options.outDir === undefined;
  const outDir = path.resolve(options.outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-compare-')));
  try {
    const v1Dir = path.join(outDir, 'v1');
    const v2Dir = path.join(outDir, 'v2');
    for (const dir of [v1Dir, v2Dir]) {
      fs.mkdirSync(dir, { recursive: true });
      if (fs.readdirSync(dir).some((name) => name.endsWith('.csv'))) {
        throw new Error(`compare: ${dir} already holds CSV files; use an empty --out directory`);
      }
    }
    const logger = options.logger;

    logger?.info(`[compare] V1 (${generator?.legacyScriptIds[0] ?? scriptId}.py${takesRules ? `, rules ${rules}` : ''}) -> ${v1Dir}`);
    let v1;
    try {
      v1 = await runV1Script({
        scriptId: generator?.legacyScriptIds[0] ?? scriptId,
        arguments: own,
        outputDir: v1Dir,
        asOf,
        databaseUrl,
        ...(takesRules ? { rules } : {}),
        pythonPath: options.pythonPath,
        scriptsDir: options.scriptsDir,
        timeoutMs: options.timeoutMs,
        env,
        automationId: 'compare',
        onStderrLine: logger ? (line) => logger.info(line) : undefined,
      });
    } catch (error) {
      // With a logger the script's stderr has just been shown line by line: not again.
      const detail = logger && error instanceof V1ScriptError ? error.summary : (error as Error).message;
      throw new Error(`compare: the V1 run failed: ${detail}`);
    }

    if (options.betweenRuns) await options.betweenRuns();

    logger?.info(`[compare] V2 (${scriptId} in the native registry${takesRules ? `, rules ${rules}` : ''}) -> ${v2Dir}`);
    const v2 = await generateIn(env, scriptId, {
      ...own,
      outputDir: v2Dir,
      asOf,
      databaseUrl,
      automationId: 'compare',
      ...(takesRules ? { rules } : {}),
      onLog: (event: LogEvent) => {
        if (event.level !== 'debug') logger?.info(event.message);
      },
    });
    if (!v2.success) {
      throw new Error(`compare: the V2 run failed (${v2.errorCode}): ${redactSecrets(v2.error ?? 'unknown error', databaseUrl)}`);
    }

    const audiences = compareOutputs(v1.csvFiles, v2.csvFiles);
    return {
      same: audiences.every((a) => a.same),
      ...(takesRules ? { rules } : { generatorOptions: own }),
      asOf,
      lookbackHours,
      coolingHours,
      scriptId,
      v1Dir,
      v2Dir,
      v1AudienceSize: v1.audienceSize,
      v2AudienceSize: v2.audienceSize,
      audiences,
    };
  } catch (error) {
    // The temp directory made for this comparison holds nothing worth keeping when a run failed.
    if (madeOutDir) fs.rmSync(outDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Compares two sets of output files (production files only; TEST files are ignored), audience by
 * audience. An audience with a file on one side only is compared against an empty audience.
 */
/** The registered generator `scriptId` names (by name or legacy id), if any. */
async function generatorOf(scriptId: string): Promise<GeneratorInfo | undefined> {
  return (await listGenerators()).find((g) => g.name === scriptId || g.legacyScriptIds.includes(scriptId));
}

export function compareOutputs(v1Files: CsvFile[], v2Files: CsvFile[]): AudienceComparison[] {
  const production = (files: CsvFile[]) => new Map(files.filter((f) => !f.isTestFile).map((f) => [String(f.audienceType), f.path]));
  const v1 = production(v1Files);
  const v2 = production(v2Files);
  const types = [...new Set([...v1.keys(), ...v2.keys()])].sort(byAudienceOrder);
  return types.map((type) => compareFiles(type, v1.get(type) ?? null, v2.get(type) ?? null));
}

const AUDIENCE_ORDER = ['offer_creators', 'closet_adders', 'wishlist_adders'];
function byAudienceOrder(a: string, b: string): number {
  const ia = AUDIENCE_ORDER.indexOf(a);
  const ib = AUDIENCE_ORDER.indexOf(b);
  if (ia !== ib) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares one audience's production files (either may be missing). */
export function compareFiles(audienceType: string, v1File: string | null, v2File: string | null): AudienceComparison {
  const v1Text = v1File ? fs.readFileSync(v1File, 'utf8') : null;
  const v2Text = v2File ? fs.readFileSync(v2File, 'utf8') : null;
  const v1 = v1Text === null ? null : tableOf(parseCsv(v1Text));
  const v2 = v2Text === null ? null : tableOf(parseCsv(v2Text));
  const v1Rows = v1?.rows ?? [];
  const v2Rows = v2?.rows ?? [];
  const headersMatch = v1 !== null && v2 !== null && sameList(v1.header, v2.header);

  const index = (rows: Record<string, string>[]) => {
    const map = new Map<string, Record<string, string>>();
    const duplicates: string[] = [];
    for (const row of rows) {
      const key = row.user_id ?? '';
      if (map.has(key)) duplicates.push(key);
      else map.set(key, row);
    }
    return { map, duplicates };
  };
  const a = index(v1Rows);
  const b = index(v2Rows);
  const columns = [...new Set([...(v1?.header ?? []), ...(v2?.header ?? [])])];

  const onlyInV1 = [...a.map.keys()].filter((k) => !b.map.has(k));
  const onlyInV2 = [...b.map.keys()].filter((k) => !a.map.has(k));
  const differing: RowDifference[] = [];
  let sameInBoth = 0;
  for (const [userId, row1] of a.map) {
    const row2 = b.map.get(userId);
    if (!row2) continue;
    const cells = columns
      .filter((column) => row1[column] !== row2[column])
      .map((column) => ({ column, v1: row1[column], v2: row2[column] }));
    if (cells.length) differing.push({ userId, columns: cells });
    else sameInBoth += 1;
  }
  const common1 = [...a.map.keys()].filter((k) => b.map.has(k));
  const common2 = [...b.map.keys()].filter((k) => a.map.has(k));
  const orderMatches = sameList(common1, common2);
  const bytesIdentical = v1Text !== null && v2Text !== null && v1Text === v2Text;
  const same =
    (v1Text === null && v2Text === null) ||
    (headersMatch &&
      onlyInV1.length === 0 &&
      onlyInV2.length === 0 &&
      differing.length === 0 &&
      orderMatches &&
      a.duplicates.length === 0 &&
      b.duplicates.length === 0 &&
      bytesIdentical);
  return {
    audienceType,
    v1File,
    v2File,
    v1Header: v1?.header ?? null,
    v2Header: v2?.header ?? null,
    headersMatch,
    v1Rows: v1Rows.length,
    v2Rows: v2Rows.length,
    sameInBoth,
    onlyInV1,
    onlyInV2,
    differing,
    orderMatches,
    duplicates: { v1: a.duplicates, v2: b.duplicates },
    bytesIdentical,
    same,
  };
}

/** The report as text, one block per audience, for people and for `grep`. */
export function formatReport(report: CompareReport): string {
  const lines: string[] = [];
  lines.push(
    report.rules
      ? `V1/V2 comparison of ${report.scriptId}, both under rules ${report.rules}: asOf=${report.asOf} lookbackHours=${report.lookbackHours} coolingHours=${report.coolingHours}`
      : `V1/V2 comparison of ${report.scriptId}: asOf=${report.asOf} ${Object.entries(report.generatorOptions ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')}`,
  );
  lines.push(`  V1 files: ${report.v1Dir} (${report.v1AudienceSize} rows)`);
  lines.push(`  V2 files: ${report.v2Dir} (${report.v2AudienceSize} rows)`);
  if (report.audiences.length === 0) {
    lines.push('');
    lines.push('no production files from either engine (no activity in the window)');
  }
  for (const a of report.audiences) {
    lines.push('');
    lines.push(
      `${a.audienceType}: ${a.same ? 'SAME' : 'DIFFERENT'} — ${a.sameInBoth} identical rows in both, ` +
        `${a.onlyInV1.length} users only in V1, ${a.onlyInV2.length} users only in V2, ${a.differing.length} users whose rows differ`,
    );
    if (a.v1File === null || a.v2File === null) {
      lines.push(`  file missing in ${a.v1File === null ? 'V1' : 'V2'}`);
    }
    if (a.v1Header && a.v2Header && !a.headersMatch) {
      lines.push(`  headers differ: V1 ${a.v1Header.join(',')} | V2 ${a.v2Header.join(',')}`);
    }
    for (const user of a.onlyInV1) lines.push(`  only in V1: ${user}`);
    for (const user of a.onlyInV2) lines.push(`  only in V2: ${user}`);
    for (const row of a.differing) {
      const cells = row.columns.map((c) => `${c.column} V1=${show(c.v1)} V2=${show(c.v2)}`).join('; ');
      lines.push(`  differs: ${row.userId}: ${cells}`);
    }
    for (const user of a.duplicates.v1) lines.push(`  duplicate user in V1: ${user}`);
    for (const user of a.duplicates.v2) lines.push(`  duplicate user in V2: ${user}`);
    if (!a.orderMatches) lines.push('  the users present in both are in a different order');
    if (
      a.v1File !== null &&
      a.v2File !== null &&
      !a.bytesIdentical &&
      a.headersMatch &&
      a.onlyInV1.length + a.onlyInV2.length + a.differing.length === 0 &&
      a.orderMatches
    ) {
      lines.push('  same rows, but the files are not byte-identical (CSV quoting or line ends differ)');
    }
  }
  lines.push('');
  lines.push(report.same ? 'RESULT: SAME (V1 and V2 production files are identical)' : 'RESULT: DIFFERENT');
  return lines.join('\n');
}

function show(value: string | undefined): string {
  return value === undefined ? '(missing)' : JSON.stringify(value);
}

function resolveAsOf(asOf: Date | string | undefined): string {
  if (asOf === undefined) return new Date().toISOString();
  if (asOf instanceof Date) {
    if (Number.isNaN(asOf.getTime())) throw new Error('compare: asOf is an invalid Date');
    return asOf.toISOString();
  }
  return asOf;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function tableOf(records: string[][]): { header: string[]; rows: Record<string, string>[] } {
  const [header = [], ...data] = records;
  return { header, rows: data.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? '']))) };
}

/** RFC 4180 parser (quoted fields with doubled quotes, embedded `,` `\r` `\n`); accepts `\n` or `\r\n` line ends. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endRecord = () => {
    record.push(field);
    records.push(record);
    record = [];
    field = '';
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i += 1;
        continue;
      }
      field += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      i += 1;
    } else if (ch === ',') {
      record.push(field);
      field = '';
      i += 1;
    } else if (ch === '\n') {
      endRecord();
      i += 1;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      endRecord();
      i += 2;
    } else {
      field += ch;
      i += 1;
    }
  }
  if (field !== '' || record.length > 0) endRecord();
  return records;
}

// ---------------------------------------------------------------------------------------------
// Explained comparisons (docs/layer3-contract.md section 9): V1 under the production script's
// rules (`v1`) against V2, with every differing row attributed to one rule.
//
// Three outputs take part: V1's files (a V1 run with rules v1, or the files the production script
// wrote, `--v1-dir`); the reference, V2 under V1's rules (`v1`), which V1 must equal; and V2 under
// its own rules (the contract, `v2`), when they differ from V1's. A row is attributed in two steps:
// first V1 against the reference (equal, or: a demand count changed since the V1 run; with
// production files also a tie or another size chosen differently, the lastActive text, or an
// action at the edge of a window whose now() is only known from the file stamp), then the
// reference against V2's rules (the cooling period, an incomplete profile, another action won in
// the wider window, the format). The users' actions come from `explainUser` (rules v1), one call
// per differing user that needs them.

/** The rules that explain a difference; each is a row of contract section 9. */
export type RuleCategory = 'coolingPeriod' | 'incompleteProfile' | 'widerWindow' | 'tieOrSize' | 'format';
/** Differences reported apart: the data changed since the V1 run, or its exact now() is unknown. */
export type ApartCategory = 'countChanged' | 'windowEdge';
export type RowCategory = RuleCategory | ApartCategory | 'unexplained';
/** File-level differences: V1's empty audience, its CRLF, its test rows, its row order among ties. */
export type FileCategory = 'emptyAudience' | 'lineEnds' | 'testFile' | 'orderTies' | 'unexplained';

export const RULE_CATEGORIES: RuleCategory[] = ['coolingPeriod', 'incompleteProfile', 'widerWindow', 'tieOrSize', 'format'];
export const APART_CATEGORIES: ApartCategory[] = ['countChanged', 'windowEdge'];
export const FILE_CATEGORIES: Exclude<FileCategory, 'unexplained'>[] = ['emptyAudience', 'lineEnds', 'testFile', 'orderTies'];

/** How each category reads in the table. */
export const CATEGORY_LABELS: Record<RowCategory | FileCategory | 'same', string> = {
  same: 'same in both',
  coolingPeriod: 'acted in the cooling period',
  incompleteProfile: 'incomplete profile (V1 drops the row)',
  widerWindow: 'another action won (wider window)',
  tieOrSize: 'tie, or several sizes/activity rows',
  format: 'format only (lastActive, Unknown)',
  countChanged: 'demand count changed since the V1 run',
  windowEdge: 'action at a window edge (V1 now() unsure)',
  emptyAudience: 'empty audience (no file on one side)',
  lineEnds: 'line ends (CRLF under v1)',
  testFile: 'test file (row 2, fixed lastActive)',
  orderTies: 'row order among equal times',
  unexplained: 'unexplained',
};

export interface ExplainCompareOptions {
  /** Default: `env.DATABASE_URL`. */
  databaseUrl?: string;
  /** The "now" of every run. Default: the current time fixed once; with `v1Dir`, the file stamp. */
  asOf?: Date | string;
  lookbackHours?: number;
  coolingHours?: number;
  scriptId?: string;
  /**
   * V1's files: a directory the production script wrote (`recent-offer-creators_YYYYMMDD_HHMMSS.csv`,
   * `…_TEST_…`; also this package's `<prefix>_YYYYMMDDTHHMMSS.csv`). No V1 run happens. Default:
   * V1 runs (the Python script with rules v1).
   */
  v1Dir?: string;
  /** With `v1Dir`: the run to take when the directory holds several (its stamp as in the file names). */
  v1Stamp?: string;
  /** With `v1Dir`: the IANA time zone the production stamps are written in. Default `UTC`. */
  v1TimeZone?: string;
  /**
   * With `v1Dir`: a differing row whose user has an action this close (seconds) to either edge of the
   * window is reported apart: the production script's now() came before its file stamp. Default 600.
   */
  edgeSeconds?: number;
  /** V2's rules: `'v2'` (the contract; the default without `v1Dir`) or `'v1'` (the default with it). */
  v2Rules?: 'v1' | 'v2';
  /** V1 files in `<outDir>/v1`, V2's in `<outDir>/v2`, the reference in `<outDir>/v2-rules-v1`. Default: a new temp dir. */
  outDir?: string;
  pythonPath?: string;
  scriptsDir?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  logger?: AutomationLogger;
  /** `explainUser` calls at a time. Default 8. */
  concurrency?: number;
  /** Runs after V1 and before the V2 runs (tests use it to change the database). */
  betweenRuns?: () => Promise<void> | void;
}

export interface RowExplanation {
  userId: string;
  category: RowCategory;
  /** The audiences the row is counted in: where V1's or V2's row is (else the reference's). */
  audiences: string[];
  v1Audience: string | null;
  v2Audience: string | null;
  /**
   * What V1's row is compared with in `columns`: V2's row, or the reference's (V2 under rules v1)
   * when the difference is between V1 and the reference (then `v2` in each cell is the reference's).
   */
  against: 'v2' | 'reference';
  /** The cells that differ (every cell of the one row when the other side has none). */
  columns: CellDifference[];
  /** Why, with the facts checked (action times, counts, values). */
  reason: string;
}

export interface FileExplanation {
  audienceType: string;
  category: FileCategory;
  reason: string;
}

export interface AudienceExplanation {
  audienceType: string;
  v1File: string | null;
  v1TestFile: string | null;
  v2File: string | null;
  v2TestFile: string | null;
  referenceFile: string | null;
  v1Rows: number;
  v2Rows: number;
  same: number;
  rules: Record<RuleCategory, number>;
  apart: Record<ApartCategory, number>;
  files: Record<Exclude<FileCategory, 'unexplained'>, number>;
  /** Unexplained rows and files. */
  unexplained: number;
}

export interface ExplainTotals {
  same: number;
  rules: Record<RuleCategory, number>;
  apart: Record<ApartCategory, number>;
  files: Record<Exclude<FileCategory, 'unexplained'>, number>;
  unexplained: number;
}

export interface ExplainReport {
  mode: 'explain';
  /** `run`: V1 ran (the Python script, rules v1); `dir`: the production script's files (`--v1-dir`). */
  v1Source: 'run' | 'dir';
  v1Rules: 'v1';
  v2Rules: 'v1' | 'v2';
  asOf: string;
  /** Where asOf came from: the option, the current time, or the V1 files' stamp. */
  asOfSource: 'option' | 'now' | 'file stamp';
  /** `dir`: the run's stamp(s) as in the file names, and the zone they were read in. */
  v1Stamps: string[] | null;
  v1TimeZone: string | null;
  edgeSeconds: number | null;
  lookbackHours: number;
  coolingHours: number;
  scriptId: string;
  windows: { v1: { start: string; end: string }; v2: { start: string; end: string } };
  v1Dir: string;
  v2Dir: string;
  /** V2 under V1's rules; null when V2 itself runs them (then `v2Dir` is the reference). */
  referenceDir: string | null;
  v1AudienceSize: number;
  v2AudienceSize: number;
  /** V1's files equal the reference's byte for byte (production files: each production and test file). */
  v1MatchesReference: boolean;
  audiences: AudienceExplanation[];
  totals: ExplainTotals;
  unexplained: number;
  /** `unexplained === 0`: every difference follows a rule (or is reported apart). */
  pass: boolean;
  /** Every row that is not the same in both, with its category. */
  rows: RowExplanation[];
  files: FileExplanation[];
  timingsMs: { v1: number | null; reference: number; v2: number | null; explain: number; explainedUsers: number; total: number };
}

/** A bad `--v1-dir` (missing, several runs, ambiguous stamp) or option combination: exit 2 in the CLI. */
export class CompareUsageError extends Error {}

const TEST_USER = { user_id: '0e54067c-4c0e-4e4a-8a23-a47661578059', username: 'beems', firstName: 'Mbiyimoh', usersize: '13' };
const V1_TEST_LAST_ACTIVE = '2025-08-05 20:00:00.000000+00:00';
const AUDIENCE_PREFIX: Record<string, string> = {
  'offer-creators': 'offer_creators',
  'closet-adders': 'closet_adders',
  'wishlist-adders': 'wishlist_adders',
};
const ACTION_OF: Record<string, string> = { offer_creators: 'offer_created', closet_adders: 'closet_add', wishlist_adders: 'wishlist_add' };
const countColumnOf = (audience: string) => (audience === 'closet_adders' ? 'wishlist_count' : 'inventory_count');
const DEFAULT_EDGE_SECONDS = 600;
const DEFAULT_CONCURRENCY = 8;

interface ParsedFile {
  path: string;
  text: string;
  header: string[];
  rows: Record<string, string>[];
  /** Every record ends with `\r\n`. */
  crlf: boolean;
}

interface AudienceFiles {
  production: ParsedFile | null;
  test: ParsedFile | null;
}

interface SideRow {
  audience: string;
  row: Record<string, string>;
}

/** One side's files by audience, and its rows by user across the audiences. */
interface Side {
  files: Map<string, AudienceFiles>;
  users: Map<string, SideRow>;
  duplicates: { audience: string; userId: string }[];
  size: number;
}

function readParsed(file: string): ParsedFile {
  const text = fs.readFileSync(file, 'utf8');
  const { header, rows } = tableOf(parseCsv(text));
  return { path: file, text, header, rows, crlf: lineEndsOf(text) === 'crlf' };
}

/** `crlf` when every record ends with `\r\n` (outside quotes), `lf` when none does, else `mixed`. */
function lineEndsOf(text: string): 'crlf' | 'lf' | 'mixed' {
  let quoted = false;
  let crlf = 0;
  let lf = 0;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === '\n' && !quoted) {
      if (text[i - 1] === '\r') crlf += 1;
      else lf += 1;
    }
  }
  return crlf > 0 && lf === 0 ? 'crlf' : lf > 0 && crlf === 0 ? 'lf' : crlf === 0 && lf === 0 ? 'lf' : 'mixed';
}

function sideOf(files: { path: string; audienceType: string; isTestFile: boolean }[]): Side {
  const side: Side = { files: new Map(), users: new Map(), duplicates: [], size: 0 };
  for (const f of files) {
    const type = String(f.audienceType);
    const entry = side.files.get(type) ?? { production: null, test: null };
    const parsed = readParsed(f.path);
    if (f.isTestFile) entry.test = parsed;
    else entry.production = parsed;
    side.files.set(type, entry);
  }
  for (const [audience, entry] of side.files) {
    for (const row of entry.production?.rows ?? []) {
      side.size += 1;
      const userId = row.user_id ?? '';
      if (side.users.has(userId)) side.duplicates.push({ audience, userId });
      else side.users.set(userId, { audience, row });
    }
  }
  return side;
}

// --- V1 files written by the production script -------------------------------------------------

interface V1DirFile {
  path: string;
  name: string;
  audienceType: string;
  isTestFile: boolean;
  /** As in the name: `20261128_120000` (production, local time) or `20261128T120000[-N]` (UTC). */
  stamp: string;
  form: 'production' | 'utc';
}

interface V1DirRun {
  /** The production files' stamp (or the test files' when the run has no production file). */
  stamp: string;
  files: V1DirFile[];
  /** The earliest stamp of the run (the test files are stamped first). */
  earliest: string;
  form: 'production' | 'utc';
}

const PRODUCTION_NAME = /^recent-(offer-creators|closet-adders|wishlist-adders)(_TEST)?_(\d{8}_\d{6})\.csv$/;
const UTC_NAME = /^recent-(offer-creators|closet-adders|wishlist-adders)(_TEST)?_(\d{8}T\d{6}(?:-\d+)?)\.csv$/;

/** Seconds since the epoch of a stamp's wall-clock digits, read as if UTC. */
function stampWallSeconds(stamp: string): number {
  const d = stamp.replace(/[_T]/, '');
  return Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(8, 10), +d.slice(10, 12), +d.slice(12, 14)) / 1000;
}

function validStampDigits(stamp: string): boolean {
  const d = stamp.replace(/[_T]/, '').slice(0, 14);
  const [y, mo, da, h, mi, s] = [d.slice(0, 4), d.slice(4, 6), d.slice(6, 8), d.slice(8, 10), d.slice(10, 12), d.slice(12, 14)].map(Number);
  const t = new Date(Date.UTC(y, mo - 1, da, h, mi, s));
  return y >= 1900 && t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === da && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}

/** The runs in a directory of V1 files: production stamps, each with its test files (stamped up to 10 s before). */
export function v1RunsIn(dir: string): V1DirRun[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    throw new CompareUsageError(`--v1-dir ${JSON.stringify(dir)} cannot be read: ${(error as Error).message}`);
  }
  const files: V1DirFile[] = [];
  for (const name of names) {
    const m = PRODUCTION_NAME.exec(name) ?? UTC_NAME.exec(name);
    if (!m) continue;
    if (!validStampDigits(m[3])) throw new CompareUsageError(`--v1-dir: the file ${name} has no valid date and time in its name`);
    files.push({
      path: path.join(dir, name),
      name,
      audienceType: AUDIENCE_PREFIX[m[1]],
      isTestFile: m[2] !== undefined,
      stamp: m[3],
      form: m[3].includes('T') ? 'utc' : 'production',
    });
  }
  const runs = new Map<string, V1DirRun>();
  const add = (key: string, file: V1DirFile) => {
    const run = runs.get(key) ?? { stamp: key, files: [], earliest: key, form: file.form };
    run.files.push(file);
    if (stampWallSeconds(file.stamp) < stampWallSeconds(run.earliest)) run.earliest = file.stamp;
    runs.set(key, run);
  };
  // This package's names carry one stamp for the whole set; the production script stamps its
  // test files first (main) and its production files a moment later (generate_csv_files).
  for (const f of files.filter((f) => f.form === 'utc' || !f.isTestFile)) add(f.stamp, f);
  const productionStamps = [...new Set(files.filter((f) => f.form === 'production' && !f.isTestFile).map((f) => f.stamp))];
  for (const f of files.filter((f) => f.form === 'production' && f.isTestFile)) {
    const t = stampWallSeconds(f.stamp);
    const owner = productionStamps
      .filter((s) => stampWallSeconds(s) >= t && stampWallSeconds(s) - t <= 10)
      .sort((a, b) => stampWallSeconds(a) - stampWallSeconds(b))[0];
    add(owner ?? f.stamp, f);
  }
  return [...runs.values()].sort((a, b) => stampWallSeconds(a.stamp) - stampWallSeconds(b.stamp) || (a.stamp < b.stamp ? -1 : 1));
}

/** Checks an IANA time zone name. */
export function checkTimeZone(zone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new CompareUsageError(`--v1-timezone must be an IANA time zone name such as UTC or America/New_York, got ${JSON.stringify(zone)}`);
  }
}

/** Milliseconds to add to UTC to get the wall clock of `zone` at `utcMs`. */
function zoneOffsetMs(zone: string, utcMs: number): number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const parts = Object.fromEntries(format.formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/** The instants (ms) at which `zone`'s clocks show the wall time `wallMs` (read as UTC): 0, 1 or 2. */
export function instantsOfWallTime(zone: string, wallMs: number): number[] {
  const found = new Set<number>();
  for (const probe of [wallMs - 36 * 3_600_000, wallMs, wallMs + 36 * 3_600_000]) {
    const offset = zoneOffsetMs(zone, probe);
    const utc = wallMs - offset;
    if (zoneOffsetMs(zone, utc) === offset) found.add(utc);
  }
  return [...found].sort((a, b) => a - b);
}

/** The instant a file stamp stands for: UTC for this package's names, `zone` for production's. */
export function stampInstant(stamp: string, form: 'production' | 'utc', zone: string): string {
  const wallMs = stampWallSeconds(stamp) * 1000;
  if (form === 'utc') return new Date(wallMs).toISOString();
  const instants = instantsOfWallTime(zone, wallMs);
  const shown = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)} ${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}`;
  if (instants.length === 0) {
    throw new CompareUsageError(
      `the file stamp ${stamp} (${shown}) never happened in ${zone} (the clocks went forward); pass --as-of with the V1 run's time, or the right --v1-timezone`,
    );
  }
  if (instants.length > 1) {
    throw new CompareUsageError(
      `the file stamp ${stamp} (${shown}) is ambiguous in ${zone} (the clocks went back: ${instants.map((t) => new Date(t).toISOString()).join(' or ')}); pass --as-of with the V1 run's time`,
    );
  }
  return new Date(instants[0]).toISOString();
}

/** Picks the V1 run of `dir` and its asOf. */
function resolveV1Dir(
  dir: string,
  options: { v1Stamp?: string; v1TimeZone: string; asOf?: string },
): { files: V1DirFile[]; stamps: string[]; asOf: string; asOfSource: 'option' | 'file stamp' } {
  const runs = v1RunsIn(dir);
  let run: V1DirRun | undefined;
  if (options.v1Stamp !== undefined) {
    run = runs.find((r) => r.stamp === options.v1Stamp || r.files.some((f) => f.stamp === options.v1Stamp));
    if (!run) {
      throw new CompareUsageError(
        `--v1-stamp ${options.v1Stamp}: no V1 files with that stamp in ${dir}` + (runs.length ? ` (its runs: ${runs.map((r) => r.stamp).join(', ')})` : ''),
      );
    }
  } else if (runs.length > 1) {
    throw new CompareUsageError(
      `--v1-dir ${dir} holds the files of ${runs.length} runs (stamps ${runs.map((r) => r.stamp).join(', ')}); pick one with --v1-stamp STAMP`,
    );
  } else {
    run = runs[0];
  }
  if (!run) {
    if (options.asOf !== undefined) return { files: [], stamps: [], asOf: options.asOf, asOfSource: 'option' };
    throw new CompareUsageError(
      `--v1-dir ${dir} holds no V1 files (recent-offer-creators_YYYYMMDD_HHMMSS.csv, …): point it at the directory the script wrote, or pass --as-of to compare against a V1 run whose audiences were all empty`,
    );
  }
  const seen = new Set<string>();
  for (const f of run.files) {
    const key = `${f.audienceType}/${f.isTestFile}`;
    if (seen.has(key)) throw new CompareUsageError(`--v1-dir: two ${f.isTestFile ? 'test ' : ''}files for ${f.audienceType} in the run ${run.stamp}`);
    seen.add(key);
  }
  const stamps = [...new Set(run.files.map((f) => f.stamp))].sort();
  if (options.asOf !== undefined) return { files: run.files, stamps, asOf: options.asOf, asOfSource: 'option' };
  return { files: run.files, stamps, asOf: stampInstant(run.earliest, run.form, options.v1TimeZone), asOfSource: 'file stamp' };
}

// --- Time ----------------------------------------------------------------------------------------

/** Microseconds since the epoch of an ISO-8601 date-time with `Z` or an offset; NaN if it is not one. */
export function isoMicros(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}(?::?\d{2})?)$/.exec(text);
  if (!m) return Number.NaN;
  const d = new Date(0);
  d.setUTCFullYear(+m[1], +m[2] - 1, +m[3]);
  d.setUTCHours(+m[4], +m[5], +m[6], 0);
  const fraction = Number((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  let offsetMinutes = 0;
  if (!/^[Zz]$/.test(m[8])) {
    const sign = m[8][0] === '-' ? -1 : 1;
    const digits = m[8].slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0));
  }
  return (d.getTime() - offsetMinutes * 60_000) * 1000 + fraction;
}

const hoursMicros = (hours: number) => Math.round(hours * 3.6e9);
const isoOfMicros = (micros: number) => {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString();
  return rest ? iso.replace(/Z$/, `${String(rest).padStart(3, '0')}Z`) : iso;
};

/**
 * `lastActive` as an instant, whatever its text: PostgreSQL's (`2026-11-28 08:07:00.12+00`), Python's
 * (`2026-11-28 08:07:00.120000+00:00`, any offset) or without an offset (read as UTC). Else the text.
 */
function lastActiveKey(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/.exec(text);
  if (!m) return text;
  const d = new Date(0);
  d.setUTCFullYear(+m[1], +m[2] - 1, +m[3]);
  d.setUTCHours(+m[4], +m[5], +m[6], 0);
  const fraction = Number((m[7] ?? '').padEnd(6, '0'));
  const offsetSeconds = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11] ?? 0) * 60 + Number(m[12] ?? 0)) : 0;
  return String((d.getTime() - offsetSeconds * 1000) * 1000 + fraction);
}

// --- Rows ----------------------------------------------------------------------------------------

const normalized = (column: string, value: string | undefined): string | undefined => {
  if (value === undefined) return value;
  if (column === 'lastActive') return lastActiveKey(value);
  if (column === 'relevant_variant_size') return value === '' ? 'Unknown' : value;
  return value;
};

interface RowDiff {
  /** Columns whose text differs. */
  raw: string[];
  /** Columns that still differ after reading lastActive as an instant and '' as Unknown. */
  real: string[];
}

function rowDiff(a: Record<string, string>, b: Record<string, string>): RowDiff {
  const columns = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const raw = columns.filter((c) => a[c] !== b[c]);
  const real = raw.filter((c) => normalized(c, a[c]) !== normalized(c, b[c]));
  return { raw, real };
}

function cellsOf(a: SideRow | undefined, b: SideRow | undefined): CellDifference[] {
  const columns = [...new Set([...Object.keys(a?.row ?? {}), ...Object.keys(b?.row ?? {})])];
  return columns
    .filter((c) => !a || !b || a.row[c] !== b.row[c])
    .map((c) => ({ column: c, v1: a?.row[c], v2: b?.row[c] }));
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

// --- Test files ----------------------------------------------------------------------------------

/** The test row a rule set writes for an audience with these production rows (lastActive checked apart). */
function expectedTestRow(rules: 'v1' | 'v2', audience: string, rows: Record<string, string>[]): Record<string, string> {
  const source = rules === 'v1' ? (rows[1] ?? rows[0]) : rows[0];
  const count = countColumnOf(audience);
  return {
    ...TEST_USER,
    relevant_variant_size: source ? source.relevant_variant_size : '13',
    product_name: source ? source.product_name : 'Test Product',
    variantID: source ? source.variantID : 'test-variant-id',
    [count]: source ? source[count] : '',
  };
}

/** Why a test file is not what its rules write from its own production rows; null when it is. */
function testFileProblem(rules: 'v1' | 'v2', audience: string, files: AudienceFiles): string | null {
  const { production, test } = files;
  if (!production && !test) return null;
  if (!test) return 'a production file without its test file';
  if (!production) return 'a test file without its production file';
  if (!sameList(test.header, production.header)) return 'the test file has another header';
  if (test.rows.length !== 1) return `the test file has ${test.rows.length} rows, not 1`;
  if (rules === 'v1' && production.rows.length === 0) return 'rules v1 write no test file for an empty audience';
  const row = test.rows[0];
  const expected = expectedTestRow(rules, audience, production.rows);
  for (const [column, value] of Object.entries(expected)) {
    if (row[column] !== value) return `its ${column} is ${show(row[column])}, not ${show(value)} (row ${rules === 'v1' && production.rows.length > 1 ? 2 : 1})`;
  }
  if (rules === 'v1' && row.lastActive !== V1_TEST_LAST_ACTIVE) return `its lastActive is ${show(row.lastActive)}, not ${show(V1_TEST_LAST_ACTIVE)}`;
  if (rules === 'v2' && Number.isNaN(isoMicros(row.lastActive ?? ''))) return `its lastActive ${show(row.lastActive)} is not an ISO time`;
  if ((rules === 'v1') !== test.crlf) return `the test file's line ends are not ${rules === 'v1' ? 'CRLF' : 'LF'}`;
  return null;
}

// --- explainUser ---------------------------------------------------------------------------------

async function explainAll(
  userIds: string[],
  explain: (userId: string) => Promise<ExplainResult>,
  concurrency: number,
): Promise<Map<string, ExplainResult>> {
  const results = new Map<string, ExplainResult>();
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < userIds.length && !failed) {
      const userId = userIds[next];
      next += 1;
      const result = await explain(userId);
      if (!result.success) {
        failed = true;
        throw new Error(`compare: explaining user ${userId} failed (${result.errorCode}): ${result.error}`);
      }
      results.set(userId, result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, userIds.length)) }, worker));
  return results;
}

// --- Attribution ---------------------------------------------------------------------------------

interface Context {
  v1Source: 'run' | 'dir';
  asOfMicros: number;
  coolingStartMicros: number;
  windowStartMicros: number;
  edgeMicros: number;
  v1: Side;
  reference: Side;
  v2: Side;
  /** V2 runs other rules than V1 (then `v2` is not `reference`). */
  twoRules: boolean;
  /** The highest count V1's rows show for a variant in a count column (undefined: no such row). */
  v1CountOf: (variantId: string, column: string) => number | undefined;
}

interface Verdict {
  category: RowCategory | 'same';
  reason: string;
  /** 1: V1 against the reference (V2 under rules v1); 2: against V2's own rules. */
  step?: 1 | 2;
}

/** What a user's attribution needs: `explainUser`'s view of the user (rules v1), or nothing. */
type Needs = (explained: ExplainResult | undefined) => Verdict;

const actionText = (a: ExplainedAction) => `${a.type} at ${a.createdAt} (variant ${a.variantId})`;

function winnerIs(e: ExplainResult | undefined, side: SideRow): boolean {
  return Boolean(e?.winner && e.winner.type === ACTION_OF[side.audience] && e.winner.variantId === side.row.variantID);
}

function attribute(userId: string, ctx: Context): { verdict?: Verdict; needs?: Needs } {
  const r1 = ctx.v1.users.get(userId);
  const rf = ctx.reference.users.get(userId);
  const dir = ctx.v1Source === 'dir';
  const inCooling = (a: ExplainedAction) => {
    const t = isoMicros(a.createdAt);
    return t >= ctx.coolingStartMicros && t <= ctx.asOfMicros;
  };
  const nearEdge = (e: ExplainResult | undefined) =>
    (e?.actions ?? []).find((a) => {
      const t = isoMicros(a.createdAt);
      return Math.abs(t - ctx.windowStartMicros) <= ctx.edgeMicros || Math.abs(t - ctx.asOfMicros) <= ctx.edgeMicros;
    });
  const edgeVerdict = (e: ExplainResult | undefined): Verdict | null => {
    if (!dir) return null;
    const a = nearEdge(e);
    return a
      ? { category: 'windowEdge', reason: `the user's ${actionText(a)} is within ${ctx.edgeMicros / 1e6} s of an edge of the window; V1's now() came before its file stamp` }
      : null;
  };
  const disagree = (what: string): Verdict => ({
    category: 'unexplained',
    reason: dir ? `V1's production files and V2 under rules v1 disagree: ${what}` : `V1 and V2 under rules v1 disagree: ${what}`,
  });

  // Step 1: V1 against the reference (V2 under V1's rules).
  const step1 = ((): { verdict?: Verdict; needs?: Needs } | null => {
    if (!r1 && !rf) return null;
    if (r1 && rf && r1.audience === rf.audience) {
      const diff = rowDiff(r1.row, rf.row);
      if (diff.raw.length === 0) return null;
      const count = countColumnOf(r1.audience);
      if (diff.real.length === 0) {
        return dir
          ? { verdict: { category: 'format', reason: `the same ${diff.raw.join(', ')} written differently (${diff.raw.map((c) => `${show(r1.row[c])} / ${show(rf.row[c])}`).join('; ')})` } }
          : { verdict: disagree(`${diff.raw.join(', ')} written differently`) };
      }
      if (diff.real.length === 1 && diff.real[0] === count) {
        return { verdict: { category: 'countChanged', reason: `${count} was ${r1.row[count]} in V1's file and is ${rf.row[count]} now` } };
      }
      if (!dir) return { verdict: disagree(diff.real.join(', ')) };
      // Production files: a tie, another preferred size or another activity row, else an edge.
      return {
        needs: (e) => {
          const covered = new Set<string>();
          const reasons: string[] = [];
          if (diff.real.includes('variantID') && e?.winner) {
            const tie = (e.actions ?? []).find(
              (a) => a.type === e.winner!.type && a.variantId === r1.row.variantID && a.createdAt === e.winner!.createdAt && a.position === 'in_window',
            );
            if (tie && e.winner.variantId === rf.row.variantID) {
              for (const c of ['variantID', 'product_name', 'relevant_variant_size', count]) covered.add(c);
              reasons.push(`a tie: the user's ${e.winner.type} actions at ${e.winner.createdAt} include variants ${r1.row.variantID} (V1) and ${rf.row.variantID} (V2 takes the smallest record id)`);
            }
          }
          if (diff.real.includes('usersize') && r1.row.usersize !== '' && byteOrder(r1.row.usersize, rf.row.usersize) > 0) {
            covered.add('usersize');
            reasons.push(`several preferred sizes: V1 took ${show(r1.row.usersize)}, V2 the smallest ${show(rf.row.usersize)}`);
          }
          if (diff.real.includes('lastActive')) {
            const a = lastActiveKey(r1.row.lastActive ?? '');
            const b = lastActiveKey(rf.row.lastActive ?? '');
            if ((r1.row.lastActive === '' && rf.row.lastActive !== '') || (/^\d+$/.test(a) && /^\d+$/.test(b) && Number(a) < Number(b))) {
              covered.add('lastActive');
              reasons.push(`several user_activities rows: V1 took ${show(r1.row.lastActive)}, V2 the latest ${show(rf.row.lastActive)}`);
            }
          }
          const rest = diff.real.filter((c) => !covered.has(c));
          if (reasons.length && (rest.length === 0 || (rest.length === 1 && rest[0] === count))) {
            return { category: 'tieOrSize', reason: reasons.join('; ') + (rest.length ? `; and ${count} changed since (${r1.row[count]} then, ${rf.row[count]} now)` : '') };
          }
          return edgeVerdict(e) ?? disagree(rest.join(', '));
        },
      };
    }
    // On one side only, or in another audience.
    return {
      needs: (e) => {
        if (r1 && !rf && e?.verdict?.kind === 'below_demand' && winnerIs(e, r1) && e.demand) {
          return {
            category: 'countChanged',
            reason: `${e.demand.measure} of V1's ${e.winner!.type} (variant ${r1.row.variantID}) was ${r1.row[countColumnOf(r1.audience)]} in V1's file and is ${e.demand.count} < ${e.demand.threshold} now`,
          };
        }
        if (rf && !r1 && e?.verdict?.kind === 'in_audience' && winnerIs(e, rf) && e.demand) {
          const count = countColumnOf(rf.audience);
          const seen = ctx.v1CountOf(rf.row.variantID, count);
          if (seen === undefined || seen < e.demand.threshold) {
            return {
              category: 'countChanged',
              reason: `${count} of the user's ${e.winner!.type} (variant ${rf.row.variantID}) is ${rf.row[count]} >= ${e.demand.threshold} now, and no V1 row shows that variant's count at the threshold or above: it crossed the threshold since the V1 run`,
            };
          }
        }
        const edge = edgeVerdict(e);
        if (edge) return edge;
        if (r1 && rf) return disagree(`the user is in ${r1.audience} in V1 and in ${rf.audience} under rules v1 now`);
        const verdict = e?.verdict ? `; explainUser (rules v1) says ${e.verdict.kind}: ${e.verdict.reason}` : '';
        return disagree(r1 ? `the user is in V1's ${r1.audience} only${verdict}` : `the user is in ${rf!.audience} under rules v1 but in no V1 file${verdict}`);
      },
    };
  })();
  if (step1) return tagged(step1, 1);
  if (!ctx.twoRules) return { verdict: { category: 'same', reason: '' } };
  return tagged(step2(userId, r1, ctx, inCooling), 2);
}

function tagged(result: { verdict?: Verdict; needs?: Needs }, step: 1 | 2): { verdict?: Verdict; needs?: Needs } {
  const { verdict, needs } = result;
  if (verdict) return { verdict: { ...verdict, step } };
  return { needs: (e) => ({ ...needs!(e), step }) };
}

/** V1 (= the reference) against V2's own rules (the contract). */
function step2(userId: string, r1: SideRow | undefined, ctx: Context, inCooling: (a: ExplainedAction) => boolean): { verdict?: Verdict; needs?: Needs } {
  const r2 = ctx.v2.users.get(userId);
  if (!r1 && !r2) return { verdict: { category: 'same', reason: '' } };
  if (r1 && r2 && r1.audience === r2.audience) {
    const diff = rowDiff(r1.row, r2.row);
    if (diff.raw.length === 0) return { verdict: { category: 'same', reason: '' } };
    const count = countColumnOf(r1.audience);
    if (diff.real.length === 0) {
      const what = diff.raw.map((c) => (c === 'lastActive' ? `lastActive ${show(r1.row[c])} / ${show(r2.row[c])}` : `${c} ${show(r1.row[c])} / ${show(r2.row[c])}`));
      return { verdict: { category: 'format', reason: `the same values in each rule set's format: ${what.join('; ')}` } };
    }
    if (diff.real.length === 1 && diff.real[0] === count) {
      return { verdict: { category: 'countChanged', reason: `${count} ${r1.row[count]} in V1, ${r2.row[count]} in V2 (changed between the runs)` } };
    }
    if (!diff.real.includes('variantID')) {
      return { verdict: { category: 'unexplained', reason: `the same action, but ${diff.real.join(', ')} differ (${diff.real.map((c) => `${show(r1.row[c])} / ${show(r2.row[c])}`).join('; ')})` } };
    }
  }
  if (r2 && !r1 && (r2.row.firstName === '' || r2.row.usersize === '')) {
    const missing = r2.row.firstName === '' ? 'first name' : 'size (preferred mens_size)';
    return { verdict: { category: 'incompleteProfile', reason: `no ${missing}: rules v1 drop the row, as the production script does` } };
  }
  return {
    needs: (e) => {
      const w = e?.winner;
      if (r1 && w && winnerIs(e, r1) && inCooling(w)) {
        if (!r2) return { category: 'coolingPeriod', reason: `V1's row comes from the user's ${actionText(w)}, in the cooling period` };
        return {
          category: 'widerWindow',
          reason: `V1's row comes from the user's ${actionText(w)}, in the cooling period; V2's window ends before it (V2 has ${ACTION_OF[r2.audience]} on variant ${r2.row.variantID})`,
        };
      }
      if (!r1 && r2 && w && e?.verdict?.kind === 'below_demand' && inCooling(w) && e.demand) {
        return {
          category: 'widerWindow',
          reason: `V1's winner, the user's ${actionText(w)} in the cooling period, fails the demand filter (${e.demand.measure} ${e.demand.count} < ${e.demand.threshold}); V2's window ends before it`,
        };
      }
      const verdict = e?.verdict ? `explainUser (rules v1) says ${e.verdict.kind}: ${e.verdict.reason}` : 'explainUser found nothing';
      const where = r1 && r2 ? `in ${r1.audience} in V1 and ${r2.audience} in V2` : r1 ? `in V1's ${r1.audience} only` : `in V2's ${r2!.audience} only`;
      return { category: 'unexplained', reason: `the user is ${where}, and no rule says why (${verdict})` };
    },
  };
}

function emptyCounts() {
  return {
    rules: Object.fromEntries(RULE_CATEGORIES.map((c) => [c, 0])) as Record<RuleCategory, number>,
    apart: Object.fromEntries(APART_CATEGORIES.map((c) => [c, 0])) as Record<ApartCategory, number>,
    files: Object.fromEntries(FILE_CATEGORIES.map((c) => [c, 0])) as Record<Exclude<FileCategory, 'unexplained'>, number>,
  };
}

/** The file-level differences of one audience. */
function fileExplanations(
  audience: string,
  ctx: Context,
  rowsOf: (audience: string) => RowExplanation[],
  /** With production files: two users whose rows may come in either order (same newest time, or at a window edge). */
  mayTie: (a: string, b: string) => boolean,
): FileExplanation[] {
  const out: FileExplanation[] = [];
  const add = (category: FileCategory, reason: string) => out.push({ audienceType: audience, category, reason });
  const none: AudienceFiles = { production: null, test: null };
  const v1 = ctx.v1.files.get(audience) ?? none;
  const ref = ctx.reference.files.get(audience) ?? none;
  const v2 = ctx.v2.files.get(audience) ?? none;
  const v2Rules = ctx.twoRules ? 'v2' : 'v1';
  const v1Name = ctx.v1Source === 'dir' ? "V1's production files" : 'V1';

  // Each side's test file is what its rules write from its own rows; its line ends are its rules'.
  const v1Test = testFileProblem('v1', audience, v1);
  if (v1Test) add('unexplained', `${v1Name}: ${audience}: ${v1Test}`);
  if (v1.production && !v1.production.crlf) add('unexplained', `${v1Name}: the ${audience} file's line ends are not CRLF, as rules v1 write them`);
  if (v1.production && v1.production.rows.length === 0) add('unexplained', `${v1Name}: an empty ${audience} file; rules v1 write none for an empty audience`);
  for (const d of ctx.v1.duplicates.filter((d) => d.audience === audience)) add('unexplained', `${v1Name}: user ${d.userId} twice`);
  for (const [label, side, files, rules] of [
    ['the reference (V2 under rules v1)', ctx.reference, ref, 'v1'],
    ...(ctx.twoRules ? [['V2', ctx.v2, v2, 'v2']] : []),
  ] as [string, Side, AudienceFiles, 'v1' | 'v2'][]) {
    const problem = testFileProblem(rules, audience, files);
    if (problem) add('unexplained', `${label}: ${audience}: ${problem}`);
    if (files.production && files.production.crlf !== (rules === 'v1')) add('unexplained', `${label}: the ${audience} file's line ends are not ${rules === 'v1' ? 'CRLF' : 'LF'}`);
    for (const d of side.duplicates.filter((d) => d.audience === audience)) add('unexplained', `${label}: user ${d.userId} twice`);
  }

  // V1 against the reference: the same bytes, else the order of the rows in both.
  const step1Rows = rowsOf(audience).filter((r) => r.against === 'reference' || !ctx.twoRules);
  if (v1.production && ref.production && sameList(v1.production.header, ref.production.header) && v1.production.text !== ref.production.text) {
    const position = new Map(ref.production.rows.map((r, i) => [r.user_id, i]));
    const common1 = v1.production.rows.map((r) => r.user_id).filter((u) => position.has(u));
    const descents: [string, string][] = [];
    for (let i = 0; i + 1 < common1.length; i += 1) {
      if (position.get(common1[i])! > position.get(common1[i + 1])!) descents.push([common1[i], common1[i + 1]]);
    }
    if (descents.length) {
      if (ctx.v1Source === 'dir' && descents.every(([a, b]) => mayTie(a, b))) {
        add(
          'orderTies',
          `rows in another order only among users whose newest action has the same time, or is at a window edge (${descents.length} pair${descents.length > 1 ? 's' : ''}); the script keeps the database's order`,
        );
      } else {
        add('unexplained', `${v1Name} and the reference list the rows of ${audience} in another order (${descents.map(([a, b]) => `${a} before ${b}`).slice(0, 3).join(', ')})`);
      }
    } else if (step1Rows.length === 0 && v1.production.rows.length === ref.production.rows.length) {
      add('unexplained', `${v1Name} and the reference have the same rows of ${audience} in the same order, but not the same bytes (quoting or line ends)`);
    }
  }
  if (v1.production && ref.production && !sameList(v1.production.header, ref.production.header)) {
    add('unexplained', `headers differ: ${v1.production.header.join(',')} | ${ref.production.header.join(',')}`);
  }
  if (ctx.twoRules && v2.production && ref.production && !sameList(v2.production.header, ref.production.header)) {
    add('unexplained', `headers differ: V2 ${v2.production.header.join(',')} | reference ${ref.production.header.join(',')}`);
  }

  // V1 against V2 (what the operator compares): presence, line ends, test rows.
  const final = ctx.twoRules ? v2 : ref;
  if (!v1.production !== !final.production) {
    add(
      'emptyAudience',
      v1.production
        ? `V2 wrote no ${audience} file (${ctx.twoRules ? 'no activity in its window' : 'its audience is empty under rules v1'})`
        : `V1 wrote no ${audience} files: its audience is empty, and rules v1 write no file for an empty audience`,
    );
  }
  if (v1.production && final.production && v1.production.crlf !== final.production.crlf) {
    add('lineEnds', `V1's file ends its lines with CRLF (rules v1), V2's with LF (rules v2)`);
  }
  if (v1.test && final.test && v1.test.text !== final.test.text) {
    const v1Ok = !testFileProblem('v1', audience, v1);
    const finalOk = !testFileProblem(v2Rules, audience, final);
    if (v1Ok && finalOk) {
      add(
        'testFile',
        ctx.twoRules
          ? "V1's test row takes row 2 and a fixed lastActive (rules v1), V2's row 1 and the run's time"
          : "each test row follows its own file's rows (row 2, fixed lastActive), and those rows differ as counted",
      );
    }
  }
  return out;
}

/**
 * Compares V1 under the production script's rules (`v1`) with V2 and attributes every differing
 * row to one rule of contract section 9, or reports it apart (demand counts changed since the V1
 * run; with production files, actions at a window edge) or as unexplained. V1 runs (the Python
 * script, rules v1) unless `v1Dir` names the files the production script wrote. Rejects when a
 * run fails; throws `CompareUsageError` for a `v1Dir` it cannot use.
 */
export async function explainCompare(options: ExplainCompareOptions = {}): Promise<ExplainReport> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const databaseUrl = options.databaseUrl ?? env.DATABASE_URL;
  if (!databaseUrl) throw new Error('compare: a database URL is required (--database-url or DATABASE_URL)');
  const lookbackHours = options.lookbackHours ?? DEFAULT_LOOKBACK_HOURS;
  const coolingHours = options.coolingHours ?? DEFAULT_COOLING_HOURS;
  const scriptId = options.scriptId ?? DEFAULT_COMPARE_SCRIPT_ID;
  const v1Source = options.v1Dir !== undefined ? 'dir' : 'run';
  const v2Rules = options.v2Rules ?? (v1Source === 'dir' ? 'v1' : 'v2');
  if (v1Source === 'run' && v2Rules === 'v1') {
    throw new CompareUsageError('V1 and V2 under the same rules: use compareEngines (compare --rules v1), which wants the same files');
  }
  const v1TimeZone = options.v1TimeZone ?? 'UTC';
  if (v1Source === 'dir') checkTimeZone(v1TimeZone);
  const edgeSeconds = v1Source === 'dir' ? (options.edgeSeconds ?? DEFAULT_EDGE_SECONDS) : 0;
  if (!(Number.isFinite(edgeSeconds) && edgeSeconds >= 0)) throw new CompareUsageError(`--edge-seconds must be a number >= 0, got ${edgeSeconds}`);
  const logger = options.logger;

  let asOf: string;
  let asOfSource: ExplainReport['asOfSource'];
  let v1Files: { path: string; audienceType: string; isTestFile: boolean }[] = [];
  let v1Stamps: string[] | null = null;
  let v1DirPath: string;
  if (options.v1Dir !== undefined) {
    v1DirPath = path.resolve(options.v1Dir);
    const resolved = resolveV1Dir(v1DirPath, {
      v1Stamp: options.v1Stamp,
      v1TimeZone,
      asOf: options.asOf === undefined ? undefined : resolveAsOf(options.asOf),
    });
    asOf = resolved.asOf;
    asOfSource = resolved.asOfSource;
    v1Files = resolved.files;
    v1Stamps = resolved.stamps;
  } else {
    asOf = resolveAsOf(options.asOf);
    asOfSource = options.asOf === undefined ? 'now' : 'option';
    v1DirPath = '';
  }
  const asOfMicros = isoMicros(asOf);
  if (Number.isNaN(asOfMicros)) throw new CompareUsageError(`asOf must be an ISO-8601 date-time with Z or an offset, got ${JSON.stringify(asOf)}`);

  const madeOutDir = options.outDir === undefined;
  const outDir = path.resolve(options.outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'audience-engine-compare-')));
  try {
    const v2Dir = path.join(outDir, 'v2');
    const referenceDir = v2Rules === 'v2' ? path.join(outDir, 'v2-rules-v1') : null;
    if (v1Source === 'run') v1DirPath = path.join(outDir, 'v1');
    const dirs = [v2Dir, ...(referenceDir ? [referenceDir] : []), ...(v1Source === 'run' ? [v1DirPath] : [])];
    for (const dir of dirs) {
      fs.mkdirSync(dir, { recursive: true });
      if (fs.readdirSync(dir).some((name) => name.endsWith('.csv'))) {
        throw new CompareUsageError(`${dir} already holds CSV files; use an empty --out directory`);
      }
    }

    const timings: ExplainReport['timingsMs'] = { v1: null, reference: 0, v2: null, explain: 0, explainedUsers: 0, total: 0 };
    let v1Size = 0;
    if (v1Source === 'run') {
      logger?.info(`[compare] V1 (${scriptId}.py, rules v1) -> ${v1DirPath}`);
      const t = Date.now();
      try {
        const v1 = await runV1Script({
          scriptId,
          lookbackHours,
          coolingHours,
          outputDir: v1DirPath,
          asOf,
          databaseUrl,
          rules: 'v1',
          pythonPath: options.pythonPath,
          scriptsDir: options.scriptsDir,
          timeoutMs: options.timeoutMs,
          env,
          automationId: 'compare',
          onStderrLine: logger ? (line) => logger.info(line) : undefined,
        });
        v1Files = v1.csvFiles;
        v1Size = v1.audienceSize;
      } catch (error) {
        const detail = logger && error instanceof V1ScriptError ? error.summary : (error as Error).message;
        throw new Error(`compare: the V1 run failed: ${detail}`);
      }
      timings.v1 = Date.now() - t;
    } else {
      logger?.info(`[compare] V1: ${v1Files.length} files of the production script in ${v1DirPath} (stamp ${v1Stamps?.join(', ') || 'none'}), asOf ${asOf}`);
    }
    if (options.betweenRuns) await options.betweenRuns();

    const runV2 = async (rules: 'v1' | 'v2', dir: string) => {
      logger?.info(`[compare] V2 (${scriptId} in the native registry, rules ${rules}) -> ${dir}`);
      const result = await generateIn(env, scriptId, {
        lookbackHours,
        coolingHours,
        outputDir: dir,
        asOf,
        databaseUrl,
        automationId: 'compare',
        rules,
        onLog: (event: LogEvent) => {
          if (event.level !== 'debug') logger?.info(event.message);
        },
      });
      if (!result.success) {
        throw new Error(`compare: the V2 run (rules ${rules}) failed (${result.errorCode}): ${redactSecrets(result.error ?? 'unknown error', databaseUrl)}`);
      }
      return result;
    };
    let t = Date.now();
    const referenceResult = await runV2('v1', referenceDir ?? v2Dir);
    timings.reference = Date.now() - t;
    let v2Result = referenceResult;
    if (referenceDir) {
      t = Date.now();
      v2Result = await runV2('v2', v2Dir);
      timings.v2 = Date.now() - t;
    }

    const v1 = sideOf(v1Files);
    if (v1Source === 'dir') v1Size = v1.size;
    const reference = sideOf(referenceResult.csvFiles);
    const v2 = referenceDir ? sideOf(v2Result.csvFiles) : reference;
    const v1Counts = new Map<string, number>();
    for (const { audience, row } of v1.users.values()) {
      const key = `${countColumnOf(audience)} ${row.variantID}`;
      v1Counts.set(key, Math.max(v1Counts.get(key) ?? -Infinity, Number(row[countColumnOf(audience)])));
    }
    const ctx: Context = {
      v1Source,
      asOfMicros,
      coolingStartMicros: asOfMicros - hoursMicros(coolingHours),
      windowStartMicros: asOfMicros - hoursMicros(lookbackHours - coolingHours),
      edgeMicros: Math.round(edgeSeconds * 1e6),
      v1,
      reference,
      v2,
      twoRules: referenceDir !== null,
      v1CountOf: (variantId, column) => v1Counts.get(`${column} ${variantId}`),
    };

    // Attribute every user of any side; look up the actions of those who need them.
    const users = [...new Set([...v1.users.keys(), ...reference.users.keys(), ...v2.users.keys()])];
    const pending = new Map<string, Needs>();
    const verdicts = new Map<string, Verdict>();
    for (const userId of users) {
      const { verdict, needs } = attribute(userId, ctx);
      if (verdict) verdicts.set(userId, verdict);
      else if (needs) pending.set(userId, needs);
    }
    // Rows out of order in V1 against the reference need their users' newest action (ties).
    const orderUsers = new Set<string>();
    if (v1Source === 'dir') {
      for (const [audience, files] of v1.files) {
        const refRows = reference.files.get(audience)?.production?.rows ?? [];
        const position = new Map(refRows.map((r, i) => [r.user_id, i]));
        const common = (files.production?.rows ?? []).map((r) => r.user_id).filter((u) => position.has(u));
        for (let i = 0; i + 1 < common.length; i += 1) {
          if (position.get(common[i])! > position.get(common[i + 1])!) orderUsers.add(common[i]).add(common[i + 1]);
        }
      }
    }
    const lookups = [...new Set([...pending.keys(), ...orderUsers])];
    t = Date.now();
    if (lookups.length) logger?.info(`[compare] reading the actions of ${lookups.length} users (explainUser, rules v1, ${options.concurrency ?? DEFAULT_CONCURRENCY} at a time)`);
    const explained = await explainAll(
      lookups,
      (userId) =>
        explainUserIn(env, userId, { databaseUrl, asOf, lookbackHours, coolingHours, rules: 'v1', onLog: () => undefined }),
      options.concurrency ?? DEFAULT_CONCURRENCY,
    );
    timings.explain = Date.now() - t;
    timings.explainedUsers = lookups.length;
    for (const [userId, needs] of pending) verdicts.set(userId, needs(explained.get(userId)));
    const newestOf = new Map<string, number | null>();
    const atEdge = new Set<string>();
    for (const userId of orderUsers) {
      const times = (explained.get(userId)?.actions ?? []).map((a) => isoMicros(a.createdAt));
      const inWindow = times.filter((t) => t >= ctx.windowStartMicros && t <= ctx.asOfMicros);
      newestOf.set(userId, inWindow.length ? Math.max(...inWindow) : null);
      if (times.some((t) => Math.abs(t - ctx.windowStartMicros) <= ctx.edgeMicros || Math.abs(t - ctx.asOfMicros) <= ctx.edgeMicros)) atEdge.add(userId);
    }
    const mayTie = (a: string, b: string) => atEdge.has(a) || atEdge.has(b) || (newestOf.get(a) != null && newestOf.get(a) === newestOf.get(b));

    // Rows by audience: where V1's or V2's row is (else the reference's).
    const rows: RowExplanation[] = [];
    const sameBy = new Map<string, number>();
    for (const userId of users) {
      const verdict = verdicts.get(userId)!;
      const a = v1.users.get(userId);
      const b = v2.users.get(userId);
      const r = reference.users.get(userId);
      const audiences = [...new Set([a?.audience, b?.audience].filter((x): x is string => x !== undefined))];
      if (audiences.length === 0 && r) audiences.push(r.audience);
      if (verdict.category === 'same') {
        for (const audience of audiences) sameBy.set(audience, (sameBy.get(audience) ?? 0) + 1);
        continue;
      }
      const against = verdict.step === 2 || !ctx.twoRules ? 'v2' : 'reference';
      rows.push({
        userId,
        category: verdict.category,
        audiences,
        v1Audience: a?.audience ?? null,
        v2Audience: b?.audience ?? null,
        against,
        columns: cellsOf(a, against === 'v2' ? b : r),
        reason: verdict.reason,
      });
    }
    const types = [...new Set([...v1.files.keys(), ...reference.files.keys(), ...v2.files.keys(), ...AUDIENCE_ORDER])].sort(byAudienceOrder);
    const byAudience = new Map<string, RowExplanation[]>();
    for (const r of rows) {
      for (const audience of r.audiences) {
        const list = byAudience.get(audience);
        if (list) list.push(r);
        else byAudience.set(audience, [r]);
      }
    }
    const rowsOf = (audience: string) => byAudience.get(audience) ?? [];
    const files = types.flatMap((audience) => fileExplanations(audience, ctx, rowsOf, mayTie));
    const v1Matches = types.every((audience) => {
      const x = v1.files.get(audience);
      const y = reference.files.get(audience);
      return (x?.production?.text ?? null) === (y?.production?.text ?? null) && (x?.test?.text ?? null) === (y?.test?.text ?? null);
    });

    const audiences: AudienceExplanation[] = types.map((audience) => {
      const counts = emptyCounts();
      let unexplained = 0;
      for (const r of rowsOf(audience)) {
        if (r.category === 'unexplained') unexplained += 1;
        else if ((RULE_CATEGORIES as string[]).includes(r.category)) counts.rules[r.category as RuleCategory] += 1;
        else counts.apart[r.category as ApartCategory] += 1;
      }
      for (const f of files.filter((f) => f.audienceType === audience)) {
        if (f.category === 'unexplained') unexplained += 1;
        else counts.files[f.category] += 1;
      }
      const get = (side: Side, key: 'production' | 'test') => side.files.get(audience)?.[key]?.path ?? null;
      return {
        audienceType: audience,
        v1File: get(v1, 'production'),
        v1TestFile: get(v1, 'test'),
        v2File: get(v2, 'production'),
        v2TestFile: get(v2, 'test'),
        referenceFile: referenceDir ? get(reference, 'production') : null,
        v1Rows: v1.files.get(audience)?.production?.rows.length ?? 0,
        v2Rows: v2.files.get(audience)?.production?.rows.length ?? 0,
        same: sameBy.get(audience) ?? 0,
        ...counts,
        unexplained,
      };
    });
    const totals: ExplainTotals = { same: 0, ...emptyCounts(), unexplained: 0 };
    for (const a of audiences) {
      totals.same += a.same;
      totals.unexplained += a.unexplained;
      for (const c of RULE_CATEGORIES) totals.rules[c] += a.rules[c];
      for (const c of APART_CATEGORIES) totals.apart[c] += a.apart[c];
      for (const c of FILE_CATEGORIES) totals.files[c] += a.files[c];
    }
    const v1Start = isoOfMicros(ctx.windowStartMicros);
    timings.total = Date.now() - started;
    return {
      mode: 'explain',
      v1Source,
      v1Rules: 'v1',
      v2Rules,
      asOf,
      asOfSource,
      v1Stamps,
      v1TimeZone: v1Source === 'dir' ? v1TimeZone : null,
      edgeSeconds: v1Source === 'dir' ? edgeSeconds : null,
      lookbackHours,
      coolingHours,
      scriptId,
      windows: {
        v1: { start: v1Start, end: isoOfMicros(asOfMicros) },
        v2: { start: v1Start, end: isoOfMicros(ctx.coolingStartMicros) },
      },
      v1Dir: v1DirPath,
      v2Dir,
      referenceDir,
      v1AudienceSize: v1Size,
      v2AudienceSize: v2Result.audienceSize,
      v1MatchesReference: v1Matches,
      audiences,
      totals,
      unexplained: totals.unexplained,
      pass: totals.unexplained === 0,
      rows,
      files,
      timingsMs: timings,
    };
  } catch (error) {
    if (madeOutDir) fs.rmSync(outDir, { recursive: true, force: true });
    throw error;
  }
}

/** The explained comparison as a table (rules × audiences) and the rows that need a look. */
export function formatExplainReport(report: ExplainReport, options: { examples?: number; listLimit?: number } = {}): string {
  const examples = options.examples ?? 3;
  const listLimit = options.listLimit ?? 50;
  const lines: string[] = [];
  const dir = report.v1Source === 'dir';
  const v2Label = report.v2Rules === 'v2' ? 'V2 (rules v2, the contract)' : 'V2 (rules v1)';
  lines.push(
    dir
      ? `compare: the production script's files against ${v2Label}, ${report.scriptId}`
      : `compare: V1 (rules v1, the production script's) against ${v2Label}, ${report.scriptId}`,
  );
  const asOfFrom =
    report.asOfSource === 'file stamp'
      ? ` (the file stamp ${report.v1Stamps?.[0]} read in ${report.v1TimeZone})`
      : report.asOfSource === 'now'
        ? ' (now, fixed once)'
        : ' (--as-of)';
  lines.push(`  asOf       ${report.asOf}${asOfFrom}; lookback ${report.lookbackHours} h, cooling ${report.coolingHours} h`);
  lines.push(`  windows    v1 [${report.windows.v1.start}, ${report.windows.v1.end}]` + (report.v2Rules === 'v2' ? `; v2 [${report.windows.v2.start}, ${report.windows.v2.end})` : ''));
  lines.push(
    `  V1         ${report.v1Dir} (${report.v1AudienceSize} rows${dir ? `; stamp ${report.v1Stamps?.join(', ') || 'none'}` : '; the Python script, rules v1'})`,
  );
  lines.push(`  V2         ${report.v2Dir} (${report.v2AudienceSize} rows; rules ${report.v2Rules})`);
  if (report.referenceDir) lines.push(`  reference  ${report.referenceDir} (V2 under rules v1)`);
  lines.push(
    `  ${dir ? 'production files' : 'V1'} = V2 under rules v1, byte for byte: ${report.v1MatchesReference ? 'yes' : 'no'}` +
      (dir && report.edgeSeconds !== null ? `; window edge tolerance ${report.edgeSeconds} s` : ''),
  );
  lines.push('');

  const types = report.audiences.map((a) => a.audienceType);
  type Line = [string, (a: AudienceExplanation | ExplainTotals & { v1Rows?: number; v2Rows?: number }) => number];
  const table: (Line | null)[] = [
    [dir ? 'rows in V1 (production files)' : 'rows in V1 (rules v1)', (a) => (a as AudienceExplanation).v1Rows],
    [`rows in V2 (rules ${report.v2Rules})`, (a) => (a as AudienceExplanation).v2Rows],
    [CATEGORY_LABELS.same, (a) => a.same],
    null,
    ...RULE_CATEGORIES.filter((c) => report.v2Rules === 'v2' || !['coolingPeriod', 'incompleteProfile', 'widerWindow'].includes(c))
      .filter((c) => dir || c !== 'tieOrSize')
      .map((c): Line => [CATEGORY_LABELS[c], (a) => a.rules[c]]),
    ...FILE_CATEGORIES.filter((c) => (dir || c !== 'orderTies') && (report.v2Rules === 'v2' || c !== 'lineEnds')).map(
      (c): Line => [`file: ${CATEGORY_LABELS[c]}`, (a) => a.files[c]],
    ),
    null,
    ...APART_CATEGORIES.filter((c) => dir || c !== 'windowEdge').map((c): Line => [`apart: ${CATEGORY_LABELS[c]}`, (a) => a.apart[c]]),
    null,
    [CATEGORY_LABELS.unexplained, (a) => a.unexplained],
  ];
  const totalsRow = { ...report.totals, v1Rows: report.v1AudienceSize, v2Rows: report.v2AudienceSize };
  const headers = ['', ...types, 'total'];
  const body = table.map((line) =>
    line === null ? null : [line[0], ...report.audiences.map((a) => String(line[1](a))), String(line[1](totalsRow as never))],
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...body.filter((r): r is string[] => r !== null).map((r) => r[i].length)));
  const render = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  lines.push(render(headers));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) lines.push(row === null ? '' : render(row));
  lines.push('');

  const listed = (title: string, rows: RowExplanation[]) => {
    if (!rows.length) return;
    lines.push(`${title} (${rows.length}):`);
    for (const r of rows.slice(0, listLimit)) {
      const oneSided = r.columns.length > 0 && (r.columns.every((c) => c.v1 === undefined) || r.columns.every((c) => c.v2 === undefined));
      const cells = oneSided
        ? `only in ${r.columns.every((c) => c.v2 === undefined) ? 'V1' : 'V2'}: ` +
          r.columns
            .filter((c) => ['product_name', 'variantID', 'inventory_count', 'wishlist_count'].includes(c.column))
            .map((c) => `${c.column}=${show(c.v1 ?? c.v2)}`)
            .join(', ')
        : r.columns.map((c) => `${c.column} V1=${show(c.v1)} V2=${show(c.v2)}`).join('; ');
      lines.push(`  ${r.audiences.join('/')} ${r.userId}: ${r.reason}${cells ? ` [${cells}]` : ''}`);
    }
    if (rows.length > listLimit) lines.push(`  … and ${rows.length - listLimit} more (--json lists every row)`);
    lines.push('');
  };
  listed('UNEXPLAINED rows', report.rows.filter((r) => r.category === 'unexplained'));
  const badFiles = report.files.filter((f) => f.category === 'unexplained');
  if (badFiles.length) {
    lines.push(`UNEXPLAINED files (${badFiles.length}):`);
    for (const f of badFiles) lines.push(`  ${f.audienceType}: ${f.reason}`);
    lines.push('');
  }
  for (const c of APART_CATEGORIES) listed(`Reported apart: ${CATEGORY_LABELS[c]}`, report.rows.filter((r) => r.category === c));
  if (examples > 0) {
    const some = RULE_CATEGORIES.map((c) => [c, report.rows.filter((r) => r.category === c)] as const).filter(([, rows]) => rows.length);
    if (some.length) {
      lines.push('Examples:');
      for (const [c, rows] of some) {
        for (const r of rows.slice(0, examples)) lines.push(`  ${CATEGORY_LABELS[c]}: ${r.audiences.join('/')} ${r.userId}: ${r.reason}`);
      }
      lines.push('');
    }
  }
  const apart = APART_CATEGORIES.reduce((n, c) => n + report.totals.apart[c], 0);
  lines.push(`unexplained: ${report.unexplained}`);
  if (report.pass && report.rows.length === 0 && report.files.length === 0) {
    lines.push(`RESULT: EXPLAINED (no differences: every row is the same in both)`);
  } else if (report.pass) {
    lines.push(
      `RESULT: EXPLAINED (every difference follows a rule of docs/layer3-contract.md section 9` +
        (apart ? `; ${apart} rows reported apart: the data changed since the V1 run, compare soon after it` : '') +
        ')',
    );
  } else {
    const n = report.unexplained;
    lines.push(`RESULT: UNEXPLAINED (${n} ${n === 1 ? 'difference follows' : 'differences follow'} no rule: see the UNEXPLAINED lines above)`);
  }
  return lines.join('\n');
}
