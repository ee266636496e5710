// Compile-time checks of the published types: each `@ts-expect-error` line must be an error.
// If our .d.ts files ever degrade to `any` (a missing file, a broken `exports` entry, an
// unresolved import), these lines stop being errors and `tsc` fails with "Unused
// '@ts-expect-error' directive": the package test then fails instead of passing on `any`.
import type {
  AudienceType,
  CsvFile,
  ErrorCode,
  GeneratorInfo,
  GeneratorOptions,
  GeneratorResult,
  LogEvent,
} from 'audience-engine';
import { generate, generateLayer3, listGenerators, shutdown } from 'audience-engine';
import type { Automation, AutomationEngineConfig, AudienceGenerationResult } from 'audience-engine/automation';
import { executeAudienceGeneration } from 'audience-engine/automation';

// What a host writes, accepted as is.
export const options: GeneratorOptions = {
  lookbackHours: 48,
  coolingHours: 12,
  outputDir: '.script-outputs',
  automationId: 42,
  asOf: new Date(),
  dryRun: true,
  onLog: (event: LogEvent) => void event.message,
  signal: new AbortController().signal,
};
export const automation: Automation = {
  id: 'nightly-l3',
  audienceCriteria: { customScript: { scriptId: 'generate_layer_3_push_csvs', parameters: { lookback_hours: 48, cooling_hours: 12 } } },
};
export const config: AutomationEngineConfig = { engineVersion: 'v2', outputDir: '/tmp/out', logger: console };

// The functions' shapes.
export const run: (o?: GeneratorOptions) => Promise<GeneratorResult> = generateLayer3;
export const runByName: (name: string, o?: GeneratorOptions) => Promise<GeneratorResult> = generate;
export const list: () => Promise<GeneratorInfo[]> = listGenerators;
export const close: () => Promise<void> = shutdown;
export const route: (a: Automation, c?: AutomationEngineConfig) => Promise<AudienceGenerationResult> = executeAudienceGeneration;

export function fields(result: GeneratorResult): [boolean, number, CsvFile[], ErrorCode | undefined] {
  return [result.success, result.audienceSize, result.csvFiles, result.errorCode];
}

// What a host must not write.
// @ts-expect-error lookbackHours is a number
export const badHours: GeneratorOptions = { lookbackHours: '48' };
// @ts-expect-error errorCode is a closed union
export const badCode: ErrorCode = 'NOT_A_CODE';
// @ts-expect-error the audience types are a closed union
export const badAudience: AudienceType = 'everyone';
// @ts-expect-error an automation needs an id
export const noId: Automation = { audienceCriteria: {} };
// @ts-expect-error the result is a promise, not a result
export const notAwaited: GeneratorResult = generateLayer3();
// @ts-expect-error generate needs a generator name
export const noName = generate();
// @ts-expect-error audienceSize is a number
export const sizeIsNumber: string = ({} as AudienceGenerationResult).audienceSize;
