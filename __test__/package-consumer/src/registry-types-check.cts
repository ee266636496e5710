// Compile-time checks that the registry's types satisfy the seed's (restated in seed/), and
// that they are our types, not `any`: each `@ts-expect-error` line must be an error.
import { generatorRegistry } from 'audience-engine';
import type {
  AudienceGenerator,
  GeneratorOptions as OurOptions,
  GeneratorRegistry,
  GeneratorResult as OurResult,
  GeneratorValidation,
  RegistryAudienceType,
  RegistryCsvFile,
  RegistryGeneratorResult,
  RegistryMetadata,
} from 'audience-engine';
import type * as Sync from './seed/generators-sync.cjs';
import type * as Async from './seed/generators-async.cjs';
import type { BaseAudienceGenerator, CsvFileResult, GeneratorOptions as SeedOptions, GeneratorResult as SeedResult } from './seed/types.cjs';

/** The public face of the seed's generator: what a host can call on what `get()` returns. */
type SeedGenerator = Pick<BaseAudienceGenerator, 'name' | 'layerId' | 'description' | 'generate' | 'validate'>;

// Ours where the seed's is expected.
export const asSeedResult = (r: RegistryGeneratorResult): SeedResult => r;
export const asSeedFile = (f: RegistryCsvFile): CsvFileResult => f;
export const asSeedMetadata = (m: RegistryMetadata): Record<string, unknown> => m;
export const asSeedGenerator = (g: AudienceGenerator): SeedGenerator => g;
export const asSeedValidation = (v: GeneratorValidation): Awaited<ReturnType<BaseAudienceGenerator['validate']>> => v;
// The seed's options where ours are expected: what a seed host passes to generate().
export const seedOptionsAreOurs = (o: Partial<SeedOptions>): OurOptions => o;
export const seedOptionsToGenerate = (g: AudienceGenerator, o: Partial<SeedOptions>): Promise<RegistryGeneratorResult> => g.generate(o);
// A registry result is also the engine's own result type.
export const asOurResult = (r: RegistryGeneratorResult): OurResult => r;

// The registry where either seed registry's lookups are expected. (`get()` is compared with the
// seed generator's public face: its class has a protected member, which makes it nominal.)
type SyncRegistry = typeof Sync.generatorRegistry;
type AsyncRegistry = typeof Async.generatorRegistry;
type SyncLookups = { get(id: string): SeedGenerator | undefined; has: SyncRegistry['has']; list: SyncRegistry['list'] };
export const registryIsSync: SyncLookups = generatorRegistry;
export const asSyncRegistry = (r: GeneratorRegistry): SyncLookups => r;
// Awaiting each lookup gives what awaiting the deployed registry's gives.
export async function likeUpstream(
  id: string,
): Promise<[SeedGenerator | undefined, Awaited<ReturnType<AsyncRegistry['has']>>, Awaited<ReturnType<AsyncRegistry['list']>>]> {
  return [await generatorRegistry.get(id), await generatorRegistry.has(id), await generatorRegistry.list()];
}

// The seed's values, and only those.
export const audienceTypes: RegistryAudienceType[] = ['offer_created', 'closet_add', 'wishlist_add'];
export const seedCounts = (m: RegistryMetadata): number | undefined => m.offer_created ?? m.closet_add ?? m.wishlist_add ?? m.counts.activityRows.total;
export const layer3Type = (f: RegistryCsvFile): string => (f.audienceType === 'offer_created' ? 'offers' : f.audienceType);
// @ts-expect-error the engine's own audience names are not the seed's
export const engineName: RegistryAudienceType = 'offer_creators';
// @ts-expect-error has() answers a boolean, not a promise: an `if` without await tests it
export const hasIsNotAPromise: Promise<boolean> = generatorRegistry.has('layer3-behavior');
// @ts-expect-error get() may find nothing
export const getMayMiss: AudienceGenerator = generatorRegistry.get('layer3-behavior');
// @ts-expect-error generate() resolves a promise
export const notAwaited: RegistryGeneratorResult = ({} as AudienceGenerator).generate();
// @ts-expect-error the seed's counts are numbers
export const countIsNumber: string = ({} as RegistryMetadata).closet_add;
