// The parts of push-blaster's automation types (`src/types/automation.ts`) that audience
// generation reads, restated for the host fixtures.

export interface ScriptConfig {
  scriptId: string;
  scriptName: string;
  parameters?: Record<string, any>;
}

export interface UniversalAutomation {
  id: string;
  name: string;
  audienceCriteria: { customScript?: ScriptConfig };
}

export interface AutomationPush {
  id: string;
  automationId: string;
  sequenceOrder: number;
  title: string;
  layerId: number;
}

/** What the seed's V2 branch returned to its caller. */
export interface AudienceGenerationResult {
  success: boolean;
  csvPaths: string[];
  testCsvPaths: string[];
  audienceSize: number;
}

/** The host's log, kept so the checks can read what it said. */
export class HostLog {
  readonly lines: string[] = [];
  write(message: string): void {
    this.lines.push(message);
  }
}
