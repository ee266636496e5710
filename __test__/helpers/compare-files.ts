// V1 files as the production script leaves them, made from this package's V1 output: its names
// (`recent-offer-creators_YYYYMMDD_HHMMSS.csv`, the test files stamped a second earlier, in a
// time zone of choice), and edits to their rows.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { CsvFile } from '../../ts/types';

/** `2026-11-28T12:00:00Z` in `zone` as a production stamp `20261128_120000`. */
export function productionStamp(instant: Date, zone = 'UTC'): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}${parts.month}${parts.day}_${parts.hour}${parts.minute}${parts.second}`;
}

/**
 * Copies V1's files into `dir` under the production script's names: test files stamped at
 * `testAt`, production files one second later (the script stamps its test files first). The
 * bytes are unchanged. Returns the new paths by kind (`recent-offer-creators_`, `…_TEST_`).
 */
export function copyAsProduction(files: CsvFile[], dir: string, testAt: Date, zone = 'UTC'): Record<string, string> {
  fs.mkdirSync(dir, { recursive: true });
  const testStamp = productionStamp(testAt, zone);
  const productionStampText = productionStamp(new Date(testAt.getTime() + 1000), zone);
  const out: Record<string, string> = {};
  for (const file of files) {
    const kind = path.basename(file.path).replace(/\d{8}T\d{6}(-\d+)?\.csv$/, '');
    const target = path.join(dir, `${kind}${file.isTestFile ? testStamp : productionStampText}.csv`);
    fs.copyFileSync(file.path, target);
    out[kind] = target;
  }
  return out;
}

/** Replaces the one line of `file` that starts with `userId,` by `edit(line)` (CRLF kept). */
export function editRow(file: string, userId: string, edit: (line: string) => string): void {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\r\n');
  const index = lines.findIndex((line) => line.startsWith(`${userId},`));
  if (index < 0) throw new Error(`no row of ${userId} in ${file}`);
  const edited = edit(lines[index]);
  if (edited === lines[index]) throw new Error(`the edit changed nothing in ${userId}'s row of ${file}`);
  lines[index] = edited;
  fs.writeFileSync(file, lines.join('\r\n'));
}

/** Swaps the rows of two users in `file`. */
export function swapRows(file: string, a: string, b: string): void {
  const lines = fs.readFileSync(file, 'utf8').split('\r\n');
  const i = lines.findIndex((line) => line.startsWith(`${a},`));
  const j = lines.findIndex((line) => line.startsWith(`${b},`));
  if (i < 0 || j < 0) throw new Error(`no rows of ${a} and ${b} in ${file}`);
  [lines[i], lines[j]] = [lines[j], lines[i]];
  fs.writeFileSync(file, lines.join('\r\n'));
}
