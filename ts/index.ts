// The package's main module: the typed API. The implementation is in engine.ts.
import { explainUserIn, generateIn } from './engine';
import type {
  ExplainOptions,
  ExplainResult,
  GeneratorOptions,
  GeneratorResult,
  Layer5ExplainOptions,
  Layer5ExplainResult,
  Layer5Options,
  Layer5Result,
} from './types';

export type * from './types';
export { listGenerators, shutdown } from './engine';
export { generatorRegistry } from './registry';
export type {
  AudienceGenerator,
  GeneratorRegistry,
  GeneratorValidation,
  RegistryAudienceType,
  RegistryCsvFile,
  RegistryGeneratorResult,
  RegistryMetadata,
} from './registry';

/** Runs the Layer 3 (behavior response) generator. Resolves a result; never rejects. */
export function generateLayer3(options?: GeneratorOptions): Promise<GeneratorResult> {
  return generate('layer3-behavior', options);
}

/** Runs the Layer 5 (new-user waterfall) generator. Resolves a result; never rejects. */
export function generateLayer5(options?: Layer5Options): Promise<Layer5Result> {
  return generate('layer5-waterfall', options);
}

/**
 * Runs the generator named `nameOrLegacyId` (`layer3-behavior`, `layer5-waterfall`) or its
 * legacy script id (`generate_layer_3_push_csvs`, `generate_new_user_waterfall`). Resolves
 * `{ success: false, error, errorCode }` for a bad option, an unknown generator or a failed run;
 * never rejects. `DATABASE_URL` and the `PGSSL*` variables are read from `process.env` at call time.
 */
export function generate(nameOrLegacyId: 'layer5-waterfall' | 'generate_new_user_waterfall', options?: Layer5Options): Promise<Layer5Result>;
export function generate(nameOrLegacyId: string, options?: GeneratorOptions): Promise<GeneratorResult>;
export function generate(nameOrLegacyId: string, options: GeneratorOptions | Layer5Options = {}): Promise<GeneratorResult | Layer5Result> {
  return generateIn(process.env, nameOrLegacyId, options);
}

/**
 * Explains why `userId` is, or is not, in the Layer 3 audiences for a window: the user's
 * actions, the one that won the pick and why, its demand count against the threshold, and
 * the verdict (in which audience, or the exact rule that kept them out). With
 * `{ generator: 'layer5-waterfall' }`: which level of the new-user waterfall the user lands in,
 * each check's answer and the target shoe's source. Never rejects.
 */
export function explainUser(userId: string, options: Layer5ExplainOptions): Promise<Layer5ExplainResult>;
export function explainUser(userId: string, options?: ExplainOptions): Promise<ExplainResult>;
export function explainUser(
  userId: string,
  options: ExplainOptions | Layer5ExplainOptions = {},
): Promise<ExplainResult | Layer5ExplainResult> {
  return explainUserIn(process.env, userId, options);
}
