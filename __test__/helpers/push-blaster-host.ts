// A model of how push-blaster (services/push-blaster) consumes audience files, written for these
// tests from the facts of issue 16 (its automation engine, its generator registry, its test
// route's send phase and its variable processor); none of its code. What it models:
//   - the engine version is read once, when the automation engine module is loaded;
//   - audience generation runs once per push of the automation, through the registry when the
//     version is v2 and the registry has the script id (the options it passes, and a failed
//     result thrown as an error); the result is logged and dropped;
//   - the send phase ignores the result: it lists `.csv` files in up to four directories
//     (relative to the process's current directory), newest modification time first, takes a
//     file as TEST when its name holds `test` or `TEST`, and gives push 1, 2, 3 the newest file
//     whose name holds the push's pattern;
//   - before that, the test route's "recent files" check looks only in the first of those
//     directories that exists, for files younger than 30 minutes (TEST: names with `_TEST_`),
//     and skips the V1 script when at least two of Layer 3's three patterns are there;
//   - rows are read with a header-aware CSV parser (empty lines skipped), `user_id` picks the
//     recipients (empty ids dropped), and `[[var:<column>]]` in title, body and deep link is
//     replaced from the row: a column with an empty value gives an empty string, a column the
//     row does not have leaves the placeholder, and a message that keeps a placeholder is dropped.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { parse } from 'csv-parse/sync';

/** The directories the send phase searches, in its order, relative to the current directory. */
export const SEARCH_DIRS = ['generated_csvs', path.join('..', '..', 'generated_csvs'), path.join('..', 'generated_csvs'), '.script-outputs'];
/** The output directory push-blaster's V2 call passes today. */
export const HOST_V2_OUTPUT_DIR = '.script-outputs';
/** The age under which the recent-files check takes a file. */
export const RECENT_MS = 30 * 60 * 1000;

export const LAYER3_PATTERNS = ['offer-creators', 'closet-adders', 'wishlist-adders'];
export const LAYER5_PATTERNS = ['no-shoes-new-user', 'no-bio-new-user', 'no-offers-new-user', 'no-wishlist-new-user', 'new-stars-new-user'];
export const WATERFALL_SCRIPT_ID = 'generate_new_user_waterfall';

export interface HostPush {
  title: string;
  body: string;
  deepLink?: string;
  layerId: number;
}

export interface HostAutomation {
  id: string;
  pushSequence: HostPush[];
  audienceCriteria?: { customScript?: { scriptId: string; parameters?: { lookback_hours?: number; cooling_hours?: number } } };
}

/** The part of a registry the host uses; each call may answer a value or a promise. */
export interface HostRegistry {
  has(id: string): boolean | Promise<boolean>;
  get(id: string): HostGenerator | undefined | Promise<HostGenerator | undefined>;
}
export interface HostGenerator {
  generate(options: Record<string, unknown>): Promise<{
    success: boolean;
    error?: string;
    audienceSize: number;
    executionTimeMs: number;
    csvFiles: { path: string }[];
  }>;
}

/**
 * The production Layer 3 automation's three pushes, as issue 16 quotes them (the placeholders
 * and where they stand are the facts that matter; the elided wording is ours). Every deep link
 * carries the row's variant.
 */
export const LAYER3_PRODUCTION_PUSHES: HostPush[] = [
  {
    layerId: 3,
    title: '🎯 The target: [[var:product_name]]s 👟',
    body: '…See the [[var:inventory_count]] people who have them →',
    deepLink: 'https://tradeblock.us/product/collectors-have?productVariantId=[[var:variantID]]',
  },
  {
    layerId: 3,
    title: '📈 [[var:wishlist_count]] people want your shoe',
    body: 'Those [[var:product_name]]s you just added?…',
    deepLink: 'https://tradeblock.us/product/collectors-want?productVariantId=[[var:variantID]]',
  },
  {
    layerId: 3,
    title: '👀 [[var:inventory_count]] people have that shoe you want',
    body: 'Need those [[var:product_name]]s ASAP?…',
    deepLink: 'https://tradeblock.us/product/collectors-have?productVariantId=[[var:variantID]]',
  },
];

/** What one generation call did, as the host logs it. */
export interface GenerationRecord {
  engine: 'v1' | 'v2';
  audienceSize?: number;
  files?: string[];
}

/**
 * The automation engine as loaded: the version is read from `env` now, once. Later changes
 * of the variable do not reach it, as in the host (switching needs a restart).
 */
export function loadAutomationEngine(env: NodeJS.ProcessEnv, registry: HostRegistry, runV1: (scriptId: string) => Promise<void>) {
  const version = env.AUTOMATION_ENGINE_VERSION ?? 'v1';
  return {
    version,
    /**
     * Phase 1: one generation per push. `extraOptions` are what a changed host would add to
     * its call (e.g. `reuseRunWithinSeconds`); `outputDir` replaces the host's `.script-outputs`.
     */
    async generateAudiences(
      automation: HostAutomation,
      change: { outputDir?: string; extraOptions?: Record<string, unknown> } = {},
    ): Promise<GenerationRecord[]> {
      const records: GenerationRecord[] = [];
      const script = automation.audienceCriteria?.customScript;
      if (!script) return records;
      for (const _push of automation.pushSequence) {
        if (version === 'v2' && (await registry.has(script.scriptId))) {
          const generator = await registry.get(script.scriptId);
          if (!generator) throw new Error(`no generator for ${script.scriptId}`);
          const result = await generator.generate({
            lookbackHours: script.parameters?.lookback_hours ?? 48,
            coolingHours: script.parameters?.cooling_hours ?? 12,
            outputDir: change.outputDir ?? HOST_V2_OUTPUT_DIR,
            dryRun: false,
            automationId: automation.id,
            ...change.extraOptions,
          });
          if (!result.success) throw new Error(`V2 generator failed: ${result.error}`);
          records.push({ engine: 'v2', audienceSize: result.audienceSize, files: result.csvFiles.map((f) => f.path) });
        } else {
          await runV1(script.scriptId);
          records.push({ engine: 'v1' });
        }
      }
      return records;
    },
  };
}

/** The search directories that exist, in the send phase's order. */
export function existingSearchDirs(cwd = process.cwd()): string[] {
  return SEARCH_DIRS.map((dir) => path.join(cwd, dir)).filter((dir) => fs.existsSync(dir));
}

/**
 * The test route's check before it runs the V1 script: in the first existing search directory
 * only, `.csv` files of the mode (TEST: `_TEST_` in the name) younger than 30 minutes; found
 * when at least two of Layer 3's patterns are among them.
 */
export function recentFilesCheck(mode: 'TEST' | 'REAL', cwd = process.cwd(), now = Date.now()): { found: boolean; dir?: string; patterns: string[] } {
  const dir = existingSearchDirs(cwd)[0];
  if (!dir) return { found: false, patterns: [] };
  const recent = fs.readdirSync(dir).filter((name) => {
    if (!name.endsWith('.csv') || name.includes('_TEST_') !== (mode === 'TEST')) return false;
    return now - fs.statSync(path.join(dir, name)).mtime.getTime() < RECENT_MS;
  });
  const patterns = LAYER3_PATTERNS.filter((pattern) => recent.some((name) => name.includes(pattern)));
  return { found: patterns.length >= 2, dir, patterns };
}

export interface PickedFile {
  name: string;
  fullPath: string;
  mtimeMs: number;
}

/** Every `.csv` of every existing search directory, newest modification time first. */
export function listCandidateFiles(cwd = process.cwd()): PickedFile[] {
  const files: PickedFile[] = [];
  for (const dir of existingSearchDirs(cwd)) {
    for (const name of fs.readdirSync(dir)) {
      if (!name.endsWith('.csv')) continue;
      const fullPath = path.join(dir, name);
      files.push({ name, fullPath, mtimeMs: fs.statSync(fullPath).mtimeMs });
    }
  }
  return files.sort((a, b) => b.mtimeMs - a.mtimeMs);
}

/** Whether the send phase takes `name` as a TEST file. */
export function looksLikeTestFile(name: string): boolean {
  return name.includes('test') || name.includes('TEST');
}

/** Push i's file: the newest whose name holds the i-th pattern of the script, of the mode. */
export function pickAudienceFiles(automation: HostAutomation, mode: 'TEST' | 'REAL', cwd = process.cwd()): (PickedFile | undefined)[] {
  const candidates = listCandidateFiles(cwd);
  const waterfall = automation.audienceCriteria?.customScript?.scriptId === WATERFALL_SCRIPT_ID;
  const patterns = waterfall ? LAYER5_PATTERNS : LAYER3_PATTERNS;
  return automation.pushSequence.map((_push, i) => {
    const pattern = patterns[i] ?? patterns[waterfall ? patterns.length - 1 : 0];
    return candidates.find((file) => file.name.includes(pattern) && looksLikeTestFile(file.name) === (mode === 'TEST'));
  });
}

/** Header-aware parsing: one object per data row, keyed by the header's names; empty lines skipped. */
export function parseRows(text: string): Record<string, string>[] {
  return parse(text, { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
}

const PLACEHOLDER = /\[\[var:([a-zA-Z_][a-zA-Z0-9_]*)\]\]/g;

/** `[[var:<column>]]` replaced from `row`; a column the row lacks keeps its placeholder. */
export function substitute(template: string, row: Record<string, string | undefined>): string {
  return template.replace(PLACEHOLDER, (whole, column: string) => (row[column] === undefined || row[column] === null ? whole : String(row[column])));
}

export interface Message {
  userId: string;
  title: string;
  body: string;
  deepLink?: string;
}

/** One message per row, minus those that keep a placeholder. */
export function messagesFor(push: HostPush, rows: Record<string, string>[]): Message[] {
  return rows
    .map((row) => ({
      userId: row.user_id,
      title: substitute(push.title, row),
      body: substitute(push.body, row),
      deepLink: push.deepLink === undefined ? undefined : substitute(push.deepLink, row),
    }))
    .filter((m) => !new RegExp(PLACEHOLDER.source).test(`${m.title}${m.body}${m.deepLink ?? ''}`));
}

export interface PushOutcome {
  file?: PickedFile;
  rows: Record<string, string>[];
  userIds: string[];
  messages: Message[];
  /** Why the push sends nothing, as the host reports it (the push counts as failed). */
  failure?: string;
}

/** The send phase for every push of `automation` in `mode`: the file each takes and what it would send. */
export function sendPhase(automation: HostAutomation, mode: 'TEST' | 'REAL', cwd = process.cwd()): PushOutcome[] {
  return pickAudienceFiles(automation, mode, cwd).map((file, i) => {
    if (!file) return { rows: [], userIds: [], messages: [], failure: 'CSV file not found' };
    const rows = parseRows(fs.readFileSync(file.fullPath, 'utf8'));
    const userIds = rows.map((row) => row.user_id).filter(Boolean);
    if (userIds.length === 0) return { file, rows, userIds, messages: [], failure: 'No valid user IDs found in CSV file' };
    return { file, rows, userIds, messages: messagesFor(automation.pushSequence[i], rows) };
  });
}
