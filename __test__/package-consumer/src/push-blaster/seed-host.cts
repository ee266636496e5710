// A host written against the seed's design of push-blaster's `./generators` module, whose
// registry answers synchronously: `has()` tested without `await`, `get()` asserted non-null.
//
// The one-import test: scripts/test-package.js compiles this file twice, unchanged against the
// installed `audience-engine`, and with only the import line below pointing at
// `../seed/generators-sync.cjs` (the seed's module restated): both must pass `tsc --strict`.
import { generatorRegistry, GeneratorOptions } from 'audience-engine';

import type { AudienceGenerationResult, HostLog, UniversalAutomation } from './automation.cjs';

/** Read once, when the module is loaded: switching engines takes a restart. */
export const AUTOMATION_ENGINE_VERSION = process.env.AUTOMATION_ENGINE_VERSION ?? 'v1';

export class SeedAutomationEngine {
  v1Runs = 0;

  constructor(private readonly log: HostLog) {}

  async executeAudienceGeneration(automation: UniversalAutomation): Promise<AudienceGenerationResult> {
    const scriptId = automation.audienceCriteria?.customScript?.scriptId;

    if (AUTOMATION_ENGINE_VERSION === 'v2' && scriptId && generatorRegistry.has(scriptId)) {
      this.log.write(`[AutomationEngine] V2 generator for ${scriptId}`);
      const generator = generatorRegistry.get(scriptId)!;
      const parameters = automation.audienceCriteria?.customScript?.parameters;
      const options: Partial<GeneratorOptions> = {
        lookbackHours: parameters?.lookback_hours ?? 48,
        coolingHours: parameters?.cooling_hours ?? 12,
        outputDir: '.script-outputs',
        dryRun: false,
        automationId: automation.id,
      };
      const result = await generator.generate(options);
      if (!result.success) {
        throw new Error(`Generator failed: ${result.error}`);
      }
      return {
        success: true,
        csvPaths: result.csvFiles.filter((file) => !file.isTestFile).map((file) => file.path),
        testCsvPaths: result.csvFiles.filter((file) => file.isTestFile).map((file) => file.path),
        audienceSize: result.audienceSize,
      };
    }

    this.log.write(`[AutomationEngine] V1 script for ${scriptId}`);
    this.v1Runs += 1;
    return { success: true, csvPaths: [], testCsvPaths: [], audienceSize: 0 };
  }
}
