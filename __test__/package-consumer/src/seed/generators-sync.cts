// The seed's `./generators` module as its design has it: a registry that answers synchronously.
// Declarations only (see types.cts).
import type { BaseAudienceGenerator } from './types.cjs';

export * from './types.cjs';

export declare const generatorRegistry: {
  register(generator: BaseAudienceGenerator): void;
  get(nameOrScriptId: string): BaseAudienceGenerator | undefined;
  has(nameOrScriptId: string): boolean;
  list(): string[];
};
