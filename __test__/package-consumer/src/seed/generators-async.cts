// The `./generators` module of push-blaster as deployed: the same types, and a registry whose
// lookups are async (it creates its generators, and their pool, on first use). Declarations
// only (see types.cts).
import type { BaseAudienceGenerator } from './types.cjs';

export * from './types.cjs';

export declare const generatorRegistry: {
  register(generator: BaseAudienceGenerator): void;
  get(nameOrScriptId: string): Promise<BaseAudienceGenerator | undefined>;
  has(nameOrScriptId: string): Promise<boolean>;
  list(): Promise<string[]>;
};
