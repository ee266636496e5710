import * as fs from 'node:fs';

import { parse } from 'csv-parse/sync';

import type { CsvFile, GeneratorResult } from '../../ts/types';

/** Parses a CSV file with a real CSV parser: header row and data rows as objects. */
export function readCsv(file: string): { header: string[]; rows: Record<string, string>[] } {
  const text = fs.readFileSync(file, 'utf8');
  const records: string[][] = parse(text, { relax_column_count: false, bom: false });
  const [header, ...data] = records;
  return { header, rows: data.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]]))) };
}

export function fileOf(result: GeneratorResult, audienceType: string, isTestFile = false): CsvFile {
  const file = result.csvFiles.find((f) => f.audienceType === audienceType && f.isTestFile === isTestFile);
  if (!file) throw new Error(`no ${isTestFile ? 'test ' : ''}file for ${audienceType} in ${JSON.stringify(result)}`);
  return file;
}

export function rowsOf(result: GeneratorResult, audienceType: string): Record<string, string>[] {
  return readCsv(fileOf(result, audienceType).path).rows;
}

export function usersOf(result: GeneratorResult, audienceType: string): string[] {
  return rowsOf(result, audienceType).map((r) => r.user_id);
}
