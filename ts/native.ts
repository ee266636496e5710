// The generated napi-rs loader (`index.js` at the package root), typed. Private to the package.
/* eslint-disable @typescript-eslint/no-require-imports */
export interface NativeBinding {
  nativeGenerate(
    name: string,
    options: Record<string, WireValue>,
    environment: Record<string, string>,
    onLog?: ((event: unknown) => void) | null,
    runId?: string | null,
  ): Promise<unknown>;
  nativeExplainUser(
    generator: string,
    userId: string,
    options: Record<string, WireValue>,
    environment: Record<string, string>,
    onLog?: ((event: unknown) => void) | null,
    runId?: string | null,
  ): Promise<unknown>;
  nativeRegisterRun(runId: string): void;
  nativeCancel(runId: string): boolean;
  nativeForgetRun(runId: string): void;
  nativeListGenerators(): unknown;
  nativeShutdown(): Promise<void>;
  nativeOpenPoolCount(): number;
}

/** One option value as it crosses to Rust: tagged, so NaN, Infinity and bad Dates survive. */
export type WireValue =
  | { type: 'number'; value: string }
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'null' }
  | { type: 'date'; value: string | null }
  | { type: 'array' | 'object' | 'function' | 'symbol' }
  | { type: 'bigint'; value: string };

export const native: NativeBinding = require('../index.js');

export function toWire(value: unknown): WireValue | undefined {
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'number':
      return { type: 'number', value: String(value) };
    case 'string':
      return { type: 'string', value };
    case 'boolean':
      return { type: 'boolean', value };
    case 'bigint':
      return { type: 'bigint', value: value.toString() };
    case 'function':
      return { type: 'function' };
    case 'symbol':
      return { type: 'symbol' };
    default:
      if (value === null) return { type: 'null' };
      if (value instanceof Date) {
        return { type: 'date', value: Number.isNaN(value.getTime()) ? null : value.toISOString() };
      }
      return { type: Array.isArray(value) ? 'array' : 'object' };
  }
}
