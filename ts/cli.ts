#!/usr/bin/env node
// The operator CLI: `audience-engine list | generate | explain | compare` (docs/cli.md).
//
// Exit codes: 0 success, 1 the run failed (database, output, timeout, cancelled), 2 bad usage
// (unknown flag, bad value, unknown generator, no database URL). `compare` keeps its own codes
// (0 same, 1 different, 2 bad usage, 3 a run failed).
//
// stdout holds the result (a summary table, or with --json the result object alone); progress
// and errors go to stderr. Errors are one line that says what to do, and never print the
// database URL's password.
import { parseArgs as parseNodeArgs } from 'node:util';
import * as path from 'node:path';

import * as api from './index';
import type {
  ErrorCode,
  ExplainOptions,
  ExplainResult,
  ExplainedAction,
  GeneratorInfo,
  GeneratorOptions,
  GeneratorResult,
  Layer5ExplainResult,
  Layer5Metadata,
  Layer5Options,
  LogEvent,
  RunWindow,
} from './types';
import { redactSecrets } from './redact';

const BIN = 'audience-engine';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal: draw a spinner line per phase instead of plain log lines. */
  isTTY: boolean;
}

// ---------------------------------------------------------------------------------------------
// Usage texts

const MAIN_USAGE = `Usage: ${BIN} <command> [options]

Builds push-notification audiences from PostgreSQL into CSV files.

Commands:
  list                          the registered generators
  generate <name|legacy-id>     run a generator (e.g. layer3-behavior, generate_layer_3_push_csvs)
  explain <user-id>             why a user is (or is not) in tonight's audience
  compare                       V1 (production's rules) against V2 (the contract) on the same data, every
                                difference explained; --rules v1|v2 for a byte-for-byte check under one rule set

Run \`${BIN} <command> --help\` for a command's options.

Exit codes: 0 success, 1 the run failed, 2 bad usage (compare: 1 a difference unexplained, or the files differ
under --rules; 3 a run failed).`;

const WINDOW_OPTIONS = `  --lookback-hours N         hours of look-back (default 48)
  --cooling-hours N          hours before as-of not used (default 12);
                             window = [asOf - (lookback - cooling) h, asOf - cooling h)
  --as-of ISO                the "now" of the run, e.g. 2026-11-28T06:00:00Z (default: the database's now())
  --min-inventory-count N    demand threshold for offer creators and wishlist adders (default 3)
  --min-wishlist-count N     demand threshold for closet adders (default 2)
  --database-url URL         postgres:// URL (default: env DATABASE_URL)
  --statement-timeout-ms N   server-side limit per query (default 300000)
  --acquire-timeout-ms N     wait for a database connection (default 10000)
  --rules v1|v2              v2 (default): docs/layer3-contract.md; v1: what the production script
                             writes, byte for byte (contract section 9)
  (layer5-waterfall takes these instead of the window and threshold options above:)
  --min-hours N              the youngest account taken, hours before as-of (default 12)
  --max-days N               the oldest account taken, days before as-of (default 14)`;

const COMMON_OUTPUT_OPTIONS = `  --json                     print the result object alone on stdout (for scripts)
  -q, --quiet                no progress on stderr
  --verbose                  also each query's time on stderr
  -h, --help                 this text`;

const GENERATE_USAGE = `Usage: ${BIN} generate <name|legacy-id> [options]

Runs a generator and writes its CSV files; prints a live line per phase on stderr and a
summary table (audience, rows before and after the demand filter, file) on stdout.

Options:
${WINDOW_OPTIONS}
  --out DIR                  directory for the CSV files (default .script-outputs)
  --dry-run                  compute everything, write nothing
  --automation-id ID         recorded in the result's metadata
${COMMON_OUTPUT_OPTIONS}

Exit codes: 0 success, 1 the run failed, 2 bad usage.`;

const EXPLAIN_USAGE = `Usage: ${BIN} explain <user-id> [options]

Explains one user's place in the Layer 3 audience for a window: every action the rules
consider, where it falls against the window, the action that wins, its demand count against
the threshold, and the verdict. Exit 0 whatever the verdict.

Options:
${WINDOW_OPTIONS}
  --generator NAME           layer5-waterfall: which level of the new-user waterfall the user lands in,
                             each onboarding check and the target shoe (default: layer3-behavior)
${COMMON_OUTPUT_OPTIONS}

Exit codes: 0 explained, 1 the lookup failed, 2 bad usage.`;

const LIST_USAGE = `Usage: ${BIN} list [--json]

The registered generators: name, layer, legacy script ids, description.

Options:
  --json                     print the list as JSON
  -h, --help                 this text`;

// ---------------------------------------------------------------------------------------------
// Argument parsing

class UsageError extends Error {}

type OptionSpec = { type: 'string' | 'boolean'; short?: string };

const WINDOW_FLAGS: Record<string, OptionSpec> = {
  'lookback-hours': { type: 'string' },
  'cooling-hours': { type: 'string' },
  'as-of': { type: 'string' },
  'min-inventory-count': { type: 'string' },
  'min-wishlist-count': { type: 'string' },
  'database-url': { type: 'string' },
  'statement-timeout-ms': { type: 'string' },
  'acquire-timeout-ms': { type: 'string' },
  rules: { type: 'string' },
  'min-hours': { type: 'string' },
  'max-days': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const GENERATE_FLAGS: Record<string, OptionSpec> = {
  ...WINDOW_FLAGS,
  out: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'automation-id': { type: 'string' },
};

const LIST_FLAGS: Record<string, OptionSpec> = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Flag name → option name, for the numeric options. */
const NUMERIC_FLAGS: Record<string, keyof GeneratorOptions | keyof Layer5Options> = {
  'lookback-hours': 'lookbackHours',
  'cooling-hours': 'coolingHours',
  'min-hours': 'minHours',
  'max-days': 'maxDays',
  'min-inventory-count': 'minInventoryCount',
  'min-wishlist-count': 'minWishlistCount',
  'statement-timeout-ms': 'statementTimeoutMs',
  'acquire-timeout-ms': 'acquireTimeoutMs',
};

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parse(command: string, argv: string[], spec: Record<string, OptionSpec>): Parsed {
  // `--cooling-hours -1` would be "ambiguous" to parseArgs: join a negative number to its
  // flag, so the engine's validation names the value.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    if (spec[name]?.type === 'string' && i + 1 < argv.length && /^-\d|^-\.\d/.test(argv[i + 1])) {
      args.push(`${arg}=${argv[i + 1]}`);
      i += 1;
    } else {
      args.push(arg);
    }
  }
  try {
    const { values, positionals } = parseNodeArgs({ args, options: spec, strict: true, allowPositionals: true });
    return { values: values as Parsed['values'], positionals };
  } catch (error) {
    const err = error as Error & { code?: string };
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /option '([^']+)'/i.exec(err.message)?.[1] ?? 'an option';
      throw new UsageError(`unknown option ${flag.split('=')[0]}; run ${BIN} ${command} --help`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /option '(-[^' ]+)/i.exec(err.message)?.[1];
      if (flag && /argument missing/.test(err.message)) {
        throw new UsageError(`${flag} needs a value; run ${BIN} ${command} --help`);
      }
      if (flag && spec[flag.replace(/^--?/, '')]?.type === 'boolean') {
        throw new UsageError(`${flag} takes no value; run ${BIN} ${command} --help`);
      }
      throw new UsageError(`${flag ?? 'an option'} has a value starting with '-': write ${flag ?? '--flag'}=VALUE; run ${BIN} ${command} --help`);
    }
    throw new UsageError(`${oneLine(err.message)}; run ${BIN} ${command} --help`);
  }
}

/** Builds the engine's options from the flags; values are passed as typed, so the engine's validation names them. */
function engineOptions(values: Parsed['values'], io: CliIo): GeneratorOptions {
  const options: Record<string, unknown> = {};
  for (const [flag, option] of Object.entries(NUMERIC_FLAGS)) {
    const raw = values[flag];
    if (typeof raw === 'string') options[option] = NUMBER.test(raw.trim()) ? Number(raw) : raw;
  }
  if (typeof values['as-of'] === 'string') options.asOf = values['as-of'];
  if (typeof values.out === 'string') options.outputDir = values.out;
  if (values['dry-run']) options.dryRun = true;
  if (typeof values['automation-id'] === 'string') options.automationId = values['automation-id'];
  if (typeof values.rules === 'string') options.rules = values.rules as GeneratorOptions['rules'];
  const databaseUrl = typeof values['database-url'] === 'string' ? values['database-url'] : io.env.DATABASE_URL;
  if (databaseUrl !== undefined) options.databaseUrl = databaseUrl;
  return options as GeneratorOptions;
}

// ---------------------------------------------------------------------------------------------
// Exit codes and error lines

const USAGE_CODES = new Set<ErrorCode | undefined>(['INVALID_OPTION', 'UNKNOWN_GENERATOR', 'NO_DATABASE_URL']);

export function exitCodeFor(errorCode: ErrorCode | undefined): 1 | 2 {
  return USAGE_CODES.has(errorCode) ? 2 : 1;
}

function hintFor(command: string, errorCode: ErrorCode | undefined): string {
  switch (errorCode) {
    case 'INVALID_OPTION':
      return `fix the value; run ${BIN} ${command} --help`;
    case 'UNKNOWN_GENERATOR':
      return `run ${BIN} list for the generator names`;
    case 'NO_DATABASE_URL':
      return 'pass --database-url URL or set DATABASE_URL';
    case 'DATABASE_UNREACHABLE':
      return 'check that the database is up and the URL (host, port, user, password) is right';
    case 'DATABASE_ERROR':
      return "check the database's schema and the user's permissions";
    case 'QUERY_TIMEOUT':
      return 'raise --statement-timeout-ms or narrow the window';
    case 'OUTPUT_DIR':
      return 'pass --out with a directory you can write to';
    case 'WRITE_FAILED':
      return "check the free space and permissions of the --out directory; no complete file set was written";
    case 'CANCELLED':
      return 'run it again';
    default:
      return 'run it again; if it persists, report it with the command you ran';
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------
// Progress

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Renders the engine's log events on stderr: a spinner line per running phase on a terminal, plain lines otherwise. */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private running: { phase: string; text: string; startedAt: number; baseMs: number } | undefined;
  private readonly color: boolean;
  private printed = false;

  constructor(
    private readonly io: CliIo,
    private readonly enabled: boolean,
    private readonly verbose = false,
  ) {
    this.color = io.isTTY && !io.env.NO_COLOR;
  }

  readonly onLog = (event: LogEvent): void => {
    if (!this.enabled) return;
    if (event.level === 'debug' && !this.verbose) return;
    // The failure itself is printed once, as the CLI's error line.
    if (event.level === 'error' && event.phase === null) return;
    this.printed = true;
    const text = event.message.replace(/^\[[^\]]+\]\s*/, '');
    if (!this.io.isTTY) {
      this.io.stderr(`${event.message}\n`);
      return;
    }
    // A phase's start (a later event of the running phase without phaseMs is a note within it).
    if (event.phase && event.phaseMs === null && event.phase !== this.running?.phase) {
      this.stopSpinner();
      this.running = { phase: event.phase, text, startedAt: Date.now(), baseMs: event.elapsedMs };
      this.timer = setInterval(() => this.draw(), 80);
      this.timer.unref();
      this.draw();
      return;
    }
    const mark = event.phaseMs !== null ? this.paint('32', '✓') : event.level === 'warn' ? this.paint('33', '!') : this.paint('2', '·');
    const wasRunning = this.running && event.phase !== null && event.phaseMs !== null ? undefined : this.running;
    this.stopSpinner();
    this.io.stderr(`${mark} ${this.paint('2', seconds(event.elapsedMs).padStart(7))}  ${text}\n`);
    if (wasRunning) {
      this.running = wasRunning;
      this.timer = setInterval(() => this.draw(), 80);
      this.timer.unref();
      this.draw();
    }
  };

  /** Clears the spinner line (call before printing anything else); on a terminal, a blank line after the progress. */
  stop(): void {
    this.stopSpinner();
    if (this.printed && this.io.isTTY) this.io.stderr('\n');
    this.printed = false;
  }

  private stopSpinner(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.running) this.io.stderr('\r\x1b[2K');
    this.running = undefined;
  }

  private draw(): void {
    if (!this.running) return;
    const phaseMs = Date.now() - this.running.startedAt;
    const total = this.running.baseMs + phaseMs;
    this.frame = (this.frame + 1) % SPINNER.length;
    this.io.stderr(
      `\r\x1b[2K${this.paint('36', SPINNER[this.frame])} ${this.paint('2', seconds(total).padStart(7))}  ${this.running.text} ${this.paint('2', `(${seconds(phaseMs)})`)}`,
    );
  }

  private paint(code: string, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

// ---------------------------------------------------------------------------------------------
// Formatting

function n(value: number | undefined): string {
  return value === undefined ? '-' : value.toLocaleString('en-US');
}

function ms(value: number | undefined): string {
  if (value === undefined) return '-';
  return value < 1000 ? `${value.toFixed(1)} ms` : `${(value / 1000).toFixed(2)} s`;
}

/** A plain text table: left-aligned text, right-aligned numbers. */
function table(header: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 && !right.has(i) ? c : right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

const AUDIENCE_ORDER = ['offer_creators', 'closet_adders', 'wishlist_adders'];
const CSV_COLUMNS = [
  'user_id',
  'username',
  'firstName',
  'usersize',
  'relevant_variant_size',
  'product_name',
  'variantID',
  'lastActive',
  'inventory_count',
  'wishlist_count',
];
const PHASE_ORDER = ['connect', 'activity', 'demand', 'enrich', 'write'];

/** Known keys first, in `order`; the others after them, as they came. */
function ordered<T>(entries: [string, T][], order: string[]): [string, T][] {
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  return entries.map((e, i) => ({ e, i })).sort((a, b) => rank(a.e[0]) - rank(b.e[0]) || a.i - b.i).map(({ e }) => e);
}

type ResultWithExtras = GeneratorResult & {
  manifestPath?: string;
  metadata?: GeneratorResult['metadata'] & { manifest?: unknown };
};

export function formatSummary(result: ResultWithExtras): string {
  const meta = result.metadata;
  const out: string[] = [];
  if (!meta) {
    out.push(`${result.audienceSize} rows in ${result.csvFiles.length} files, ${ms(result.executionTimeMs)}`);
    return out.join('\n');
  }
  const opts = meta.options ?? {};
  const lookback = opts.lookbackHours;
  const cooling = opts.coolingHours;
  out.push(`${meta.generator}${meta.dryRun ? ' (dry run: no files written)' : ''}`);
  out.push(`  as of    ${meta.asOf}`);
  out.push(
    `  window   ${windowText(meta.window)}${lookback !== undefined ? `  (lookback ${lookback} h, cooling ${cooling} h)` : ''}${opts.minHours !== undefined ? `  (accounts ${opts.maxDays} days to ${opts.minHours} h old)` : ''}`,
  );
  if (meta.rules === 'v1') out.push("  rules    v1: the production script's (docs/layer3-contract.md, section 9)");
  if (meta.automationId !== null && meta.automationId !== undefined) out.push(`  automation ${meta.automationId}`);
  const activity = meta.counts?.activityRows;
  if (activity) {
    out.push(
      `  activity ${n(activity.total)} actions in the window (offer_created ${n(activity.offerCreated)}, closet_add ${n(activity.closetAdd)}, wishlist_add ${n(activity.wishlistAdd)}) -> ${n(meta.counts.uniqueUsers)} users, one row each`,
    );
  }
  const funnel = (meta as unknown as Partial<Layer5Metadata>).counts;
  if (funnel && 'levels' in funnel && funnel.levels) {
    out.push(`  new users ${n(funnel.baseUsers ?? 0)} in the base set, one row each`);
    out.push('');
    if (!funnel.baseUsers) {
      out.push('No new user in the window: no files written.');
    } else {
      const rows = Object.entries(funnel.levels).map(([level, counts]) => {
        const file = result.csvFiles.find((f) => f.audienceType === counts?.audienceType && !f.isTestFile);
        const where = file ? displayPath(file.path) : meta.dryRun && counts?.extracted ? '(dry run)' : '-';
        return [`${level} ${counts?.audienceType ?? ''}`, n(counts?.extracted ?? 0), n(counts?.remainingAfter ?? 0), where];
      });
      out.push(table(['level', 'users', 'left after', 'file'], rows, new Set([1, 2])));
      const tests = result.csvFiles.filter((f) => f.isTestFile);
      if (tests.length) out.push(`\nand ${tests.length} test files, one row each: ${tests.map((f) => path.basename(f.path)).join(', ')}`);
    }
  }
  if (!(funnel && 'levels' in funnel)) out.push('');
  if (meta.reason === 'no_activity') {
    out.push('No activity in the window: no files written.');
  } else if (meta.counts?.audiences) {
    const rows: string[][] = [];
    let before = 0;
    let after = 0;
    for (const [audience, counts] of ordered(Object.entries(meta.counts.audiences), AUDIENCE_ORDER)) {
      const file = result.csvFiles.find((f) => f.audienceType === audience && !f.isTestFile);
      before += counts.beforeFilter;
      after += counts.afterFilter;
      rows.push([audience, n(counts.beforeFilter), n(counts.afterFilter), file ? displayPath(file.path) : meta.dryRun ? '(dry run)' : '-']);
    }
    rows.push(['total', n(before), n(after), '']);
    out.push(table(['audience', 'before filter', 'after filter', 'file'], rows, new Set([1, 2])));
    const tests = result.csvFiles.filter((f) => f.isTestFile);
    if (tests.length) {
      const suffix = /_TEST_([^/\\]+)$/.exec(tests[0].path)?.[1];
      const names = suffix && tests.every((f) => f.path.endsWith(`_TEST_${suffix}`)) ? `*_TEST_${suffix}` : tests.map((f) => path.basename(f.path)).join(', ');
      out.push(`\nand ${tests.length} test files, one row each: ${names}`);
    }
  }
  const phases = ordered(Object.entries(meta.phasesMs ?? {}), PHASE_ORDER)
    .map(([phase, t]) => `${phase} ${ms(t)}`)
    .join(', ');
  out.push(`\nTotal time ${ms(result.executionTimeMs)}${phases ? ` (${phases})` : ''}`);
  if (result.manifestPath) out.push(`Manifest ${displayPath(result.manifestPath)}`);
  if (meta.dryRun && meta.manifest !== undefined) out.push(`Manifest (dry run, not written):\n${JSON.stringify(meta.manifest, null, 2)}`);
  return out.join('\n');
}

/** `[start, end)`, `[start, end]` (rules v1 with an as-of) or `[start, no upper bound)`. */
function windowText(window: RunWindow | undefined): string {
  if (!window) return '[?, ?)';
  if (window.end === null) return `[${window.start}, no upper bound)`;
  return `[${window.start}, ${window.end}${window.endIncluded ? ']' : ')'}`;
}

function describeAction(a: ExplainedAction, window: ExplainResult['window']): string[] {
  return [a.type, a.productName, a.variantId, a.createdAt, position(a, window)];
}

/** "in window", "before window by 1 s", "after window by 54.31 h", "at the window end (excluded)". */
function position(a: ExplainedAction, window: ExplainResult['window']): string {
  if (a.position === 'in_window') return 'in window';
  // The exact distance from the timestamps when we can (the engine rounds hoursOutside to 0.01 h).
  const at = Date.parse(a.createdAt);
  const edge = window ? Date.parse((a.position === 'before_window' ? window.start : window.end) ?? '') : NaN;
  const hours = Number.isFinite(at) && Number.isFinite(edge) ? Math.abs(at - edge) / 3_600_000 : a.hoursOutside;
  if (hours === undefined) return a.position === 'before_window' ? 'before window' : 'after window';
  if (hours === 0 && a.position === 'after_window' && !window?.endIncluded) return 'at the window end (excluded)';
  return `${a.position === 'before_window' ? 'before' : 'after'} window by ${duration(hours)}`;
}

function duration(hours: number): string {
  if (hours >= 1) return `${round(hours)} h`;
  if (hours * 60 >= 1) return `${round(hours * 60)} min`;
  return `${round(hours * 3600)} s`;
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function isLayer5Explanation(result: ExplainResult | Layer5ExplainResult): result is Layer5ExplainResult {
  const kind = result.verdict?.kind;
  return kind === 'in_level' || kind === 'no_first_name' || 'createdAt' in result;
}

/** The explanation of one user's place in the new-user waterfall, for a terminal. */
export function formatLayer5Explain(result: Layer5ExplainResult): string {
  const out: string[] = [`user     ${result.userId}`];
  if (result.asOf) out.push(`as of    ${result.asOf}`);
  if (result.window) out.push(`accounts created in ${windowText(result.window)}`);
  if (result.createdAt) out.push(`created  ${result.createdAt}`);
  if (result.checks) {
    const mark = (done: boolean) => (done ? 'yes' : 'no');
    out.push('', table(['closet item', 'bio', 'offer', 'wishlist item'], [[mark(result.checks.closetItem), mark(result.checks.bio), mark(result.checks.offer), mark(result.checks.wishlistItem)]]));
  }
  if (result.targetShoe) out.push(`\ntarget shoe  ${result.targetShoe.productName} (${result.targetShoe.variantId}), from the ${result.targetShoe.source.replace(/_/g, ' ')}`);
  if (result.verdict) out.push(`\nverdict  ${result.verdict.kind}: ${result.verdict.reason}`);
  if (result.row) out.push(`row      ${Object.entries(result.row).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  return out.join('\n');
}

export function formatExplain(result: ExplainResult): string {
  const out: string[] = [];
  out.push(`user     ${result.userId}`);
  if (result.asOf) out.push(`as of    ${result.asOf}`);
  if (result.window) out.push(`window   ${windowText(result.window)}`);
  out.push('');
  if (result.actions.length) {
    out.push(`Actions (${result.actions.length}, newest first):`);
    out.push(
      table(
        ['type', 'product', 'variant', 'time', 'position'],
        result.actions.map((a) => describeAction(a, result.window)).map((r) => r.map((c) => oneLine(c))),
      )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  } else {
    out.push('Actions: none');
  }
  if (result.winner) {
    out.push('');
    out.push(`Winner   ${result.winner.type} ${oneLine(result.winner.productName)} (variant ${result.winner.variantId}, ${result.winner.createdAt})`);
    out.push(`         ${result.winner.why}`);
  }
  if (result.demand) {
    const d = result.demand;
    out.push(`Demand   ${d.measure} ${n(d.count)} ${d.passes ? '>=' : '<'} threshold ${n(d.threshold)}: ${d.passes ? 'passes' : 'fails'}`);
  }
  if (result.verdict) {
    const v = result.verdict;
    const audience = 'audienceType' in v ? ` (${v.audienceType})` : '';
    out.push('');
    out.push(`Verdict  ${v.kind}${audience}: ${v.reason}`);
  }
  if (result.row) {
    out.push('');
    out.push('CSV row:');
    const width = Math.max(...Object.keys(result.row).map((k) => k.length));
    for (const [column, value] of ordered(Object.entries(result.row), CSV_COLUMNS)) out.push(`  ${column.padEnd(width)}  ${oneLine(value)}`);
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Commands

interface Context {
  io: CliIo;
  signal: AbortSignal;
}

async function runList(argv: string[], { io }: Context): Promise<number> {
  const { values, positionals } = parse('list', argv, LIST_FLAGS);
  if (values.help) {
    io.stdout(`${LIST_USAGE}\n`);
    return 0;
  }
  if (positionals.length) throw new UsageError(`list takes no arguments, got ${JSON.stringify(positionals[0])}; run ${BIN} list --help`);
  const generators: GeneratorInfo[] = await api.listGenerators();
  if (values.json) {
    io.stdout(`${JSON.stringify(generators, null, 2)}\n`);
    return 0;
  }
  io.stdout(
    `${table(
      ['name', 'layer', 'legacy ids', 'description'],
      generators.map((g) => [g.name, String(g.layerId), g.legacyScriptIds.join(', '), g.description]),
    )}\n`,
  );
  return 0;
}

function failureLine(command: string, code: ErrorCode | undefined, error: string | undefined, databaseUrl: string | undefined): string {
  const message = redactSecrets(oneLine(error ?? 'the run failed'), databaseUrl);
  return `${BIN} ${command}: ${message}${code ? ` [${code}]` : ''}; ${hintFor(command, code)}\n`;
}

async function runGenerate(argv: string[], { io, signal }: Context): Promise<number> {
  const { values, positionals } = parse('generate', argv, GENERATE_FLAGS);
  if (values.help) {
    io.stdout(`${GENERATE_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? `generate needs a generator name or legacy id; run ${BIN} list for the names`
        : `generate takes one generator, got ${positionals.length} arguments; run ${BIN} generate --help`,
    );
  }
  const options = engineOptions(values, io);
  const result = (await withProgress(io, values, (onLog) =>
    api.generate(positionals[0], { ...options, onLog, signal }),
  )) as ResultWithExtras;
  if (values.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.success) {
    io.stderr(failureLine('generate', result.errorCode, result.error, options.databaseUrl));
    return exitCodeFor(result.errorCode);
  }
  if (!values.json) io.stdout(`${formatSummary(result)}\n`);
  return 0;
}

async function runExplain(argv: string[], { io, signal }: Context): Promise<number> {
  const { values, positionals } = parse('explain', argv, { ...WINDOW_FLAGS, generator: { type: 'string' } });
  if (values.help) {
    io.stdout(`${EXPLAIN_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? `explain needs a user id; run ${BIN} explain --help`
        : `explain takes one user id, got ${positionals.length} arguments; run ${BIN} explain --help`,
    );
  }
  const options = engineOptions(values, io);
  const generator = typeof values.generator === 'string' ? values.generator : undefined;
  const result: ExplainResult | Layer5ExplainResult = await withProgress(io, values, (onLog) =>
    api.explainUser(positionals[0], { ...options, ...(generator ? { generator } : {}), onLog, signal } as ExplainOptions),
  );
  if (values.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.success) {
    io.stderr(failureLine('explain', result.errorCode, result.error, options.databaseUrl));
    return exitCodeFor(result.errorCode);
  }
  if (!values.json) {
    io.stdout(`${isLayer5Explanation(result) ? formatLayer5Explain(result) : formatExplain(result as ExplainResult)}\n`);
  }
  return 0;
}

/** Runs `call` with the progress on stderr that `--quiet` and `--verbose` ask for, and clears it after. */
async function withProgress<T>(
  io: CliIo,
  values: { quiet?: boolean | string; verbose?: boolean | string },
  call: (onLog: (event: LogEvent) => void) => Promise<T>,
): Promise<T> {
  const progress = new Progress(io, !values.quiet, Boolean(values.verbose));
  try {
    return await call(progress.onLog);
  } finally {
    progress.stop();
  }
}

async function runCompare(argv: string[], { io }: Context): Promise<number> {
  const compareCli = await import('./compare-cli');
  const program = { name: `${BIN} compare`, command: `${BIN} compare` };
  return compareCli.main(argv, { stdout: io.stdout, stderr: io.stderr, env: io.env }, program);
}

/** Runs the CLI; resolves the exit code. Never rejects for a bad argument or a failed run. */
export async function main(argv: string[], io: CliIo = defaultIo(), signal: AbortSignal = new AbortController().signal): Promise<number> {
  const [command, ...rest] = argv;
  const context: Context = { io, signal };
  try {
    switch (command) {
      case undefined:
        io.stderr(`${MAIN_USAGE}\n`);
        return 2;
      case '-h':
      case '--help':
      case 'help':
        io.stdout(`${MAIN_USAGE}\n`);
        return 0;
      case '-v':
      case '--version':
        io.stdout(`${require('../package.json').version}\n`);
        return 0;
      case 'list':
        return await runList(rest, context);
      case 'generate':
        return await runGenerate(rest, context);
      case 'explain':
        return await runExplain(rest, context);
      case 'compare':
        return await runCompare(rest, context);
      default:
        if (command.startsWith('-')) {
          io.stderr(`${BIN}: unknown option ${redactSecrets(command.split('=')[0])}; run ${BIN} --help\n`);
        } else {
          io.stderr(`${BIN}: unknown command ${JSON.stringify(redactSecrets(command))}; run ${BIN} --help\n`);
        }
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${BIN} ${command}: ${redactSecrets(error.message)}\n`);
      return 2;
    }
    io.stderr(`${BIN} ${command}: ${redactSecrets(oneLine((error as Error)?.message ?? String(error)))}; report it with the command you ran\n`);
    return 1;
  } finally {
    if (command !== 'compare') await api.shutdown().catch(() => undefined);
  }
}

function defaultIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    isTTY: Boolean(process.stderr.isTTY),
  };
}

// Runs when started directly (`node dist/cli.js`) or through the launcher bin/audience-engine.js.
const launchedBy = require.main?.filename ?? '';
if (require.main === module || /[\\/]bin[\\/]audience-engine(\.js)?$/.test(launchedBy)) {
  const controller = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${BIN}: interrupted; cancelling the run (Ctrl-C again to quit at once)\n`);
    controller.abort();
  });
  main(process.argv.slice(2), defaultIo(), controller.signal).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`${BIN}: ${redactSecrets(oneLine(String(error?.message ?? error)))}\n`);
      process.exitCode = 1;
    },
  );
}
