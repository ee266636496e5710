// The types of push-blaster's own `src/lib/generators` module (the seed), restated from its
// `types.ts` and `BaseAudienceGenerator.ts` for the one-import test: the members and their types
// are the seed's; nothing here runs. Only what a host of the registry can see is restated:
// the option, result and file types, and the public face of the base generator class.

/**
 * The seed's options after its schema applied the defaults (48, 12, '.script-outputs', false):
 * hosts pass `Partial<GeneratorOptions>`.
 */
export interface GeneratorOptions {
  lookbackHours: number;
  coolingHours: number;
  outputDir: string;
  dryRun: boolean;
  automationId?: string | undefined;
}

export interface CsvFileResult {
  path: string;
  rowCount: number;
  isTestFile: boolean;
  /** `offer_created`, `closet_add` or `wishlist_add` for Layer 3. */
  audienceType: string;
}

export interface GeneratorResult {
  success: boolean;
  csvFiles: CsvFileResult[];
  audienceSize: number;
  executionTimeMs: number;
  error?: string;
  /** A dry run's holds `offer_created`, `closet_add` and `wishlist_add` counts; no activity gives `reason`. */
  metadata?: Record<string, unknown>;
}

/** The one thing the base class needs from node-postgres' `Pool`. */
export interface Pool {
  query(text: string): Promise<unknown>;
}

/** The seed's abstract generator; its subclasses (Layer 3, Layer 5) add nothing public. */
export declare abstract class BaseAudienceGenerator {
  abstract readonly name: string;
  abstract readonly layerId: number;
  abstract readonly description: string;
  protected pool: Pool;
  constructor(pool: Pool);
  generate(options: Partial<GeneratorOptions>): Promise<GeneratorResult>;
  protected abstract executeGeneration(options: GeneratorOptions): Promise<GeneratorResult>;
  validate(): Promise<{ valid: boolean; errors: string[] }>;
}
