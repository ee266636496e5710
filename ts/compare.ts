// Runs V1 (the Python script) and V2 (the Rust generator) on the same database and as-of time,
// into separate directories, and compares their production CSV files audience by audience.
// This is the rollout's "compare the CSV outputs" step (`npm run compare`).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { generateIn } from './engine';
import type { CsvFile, LogEvent } from './types';
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
  /** The V1 script id, also the V2 generator looked up by legacy id. Default `generate_layer_3_push_csvs`. */
  scriptId?: string;
  /** V1 files go to `<outDir>/v1`, V2 files to `<outDir>/v2`. Default: a new temp dir. */
  outDir?: string;
  pythonPath?: string;
  scriptsDir?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** The row rules of both runs (`'v2'` default; `'v1'`: the production script's, contract section 9). */
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

    logger?.info(`[compare] V1 (${scriptId}.py) -> ${v1Dir}`);
    let v1;
    try {
      v1 = await runV1Script({
        scriptId,
        lookbackHours,
        coolingHours,
        outputDir: v1Dir,
        asOf,
        databaseUrl,
        ...(options.rules !== undefined ? { rules: options.rules } : {}),
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

    logger?.info(`[compare] V2 (${scriptId} in the native registry) -> ${v2Dir}`);
    const v2 = await generateIn(env, scriptId, {
      lookbackHours,
      coolingHours,
      outputDir: v2Dir,
      asOf,
      databaseUrl,
      automationId: 'compare',
      ...(options.rules !== undefined ? { rules: options.rules } : {}),
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
    `V1/V2 comparison of ${report.scriptId}: asOf=${report.asOf} lookbackHours=${report.lookbackHours} coolingHours=${report.coolingHours}`,
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
