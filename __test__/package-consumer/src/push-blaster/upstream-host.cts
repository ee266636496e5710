// A host written against push-blaster's `./generators` module as deployed, whose registry is
// async: `await has()`, `await get()` and a check for a missing generator. It reads the result's
// `success`, `error`, `audienceSize`, `csvFiles[].path`, `csvFiles.length` and
// `executionTimeMs`, then drops it: the send phases find the files by searching directories.
//
// The one-import test: scripts/test-package.js compiles this file twice, unchanged against the
// installed `audience-engine`, and with only the import line below pointing at
// `../seed/generators-async.cjs` (that module restated): both must pass `tsc --strict`.
import { generatorRegistry, GeneratorOptions } from 'audience-engine';

import type { AutomationPush, HostLog, UniversalAutomation } from './automation.cjs';

/** Read once, when the module is loaded: switching engines takes a restart. */
export const AUTOMATION_ENGINE_VERSION = process.env.AUTOMATION_ENGINE_VERSION ?? 'v1';

export class UpstreamAutomationEngine {
  v1Runs = 0;

  constructor(private readonly log: HostLog) {}

  async generatePushAudience(automation: UniversalAutomation, push: AutomationPush): Promise<void> {
    this.log.write(`audience for push ${push.sequenceOrder}: ${push.title} (layer ${push.layerId})`);
    const scriptId = automation.audienceCriteria?.customScript?.scriptId;
    if (!scriptId) {
      this.log.write('no script: nothing to generate');
      return;
    }

    if (AUTOMATION_ENGINE_VERSION === 'v2' && (await generatorRegistry.has(scriptId))) {
      this.log.write(`V2 generator for ${scriptId}`);
      const generator = await generatorRegistry.get(scriptId);
      if (!generator) {
        throw new Error(`no generator for ${scriptId}`);
      }
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
        throw new Error(`V2 generator failed: ${result.error}`);
      }
      this.log.write(`V2 done: ${result.audienceSize} users, ${result.csvFiles.length} files`);
      this.log.write(`files: ${result.csvFiles.map((file) => file.path).join(', ')}`);
      this.log.write(`V2 generator: ${result.audienceSize} users in ${result.executionTimeMs}ms`);
      return;
    }

    this.log.write(`V1 script for ${scriptId}`);
    this.v1Runs += 1;
  }
}
