//! Layer 3, behavior response: users' recent high-intent actions, one per user, enriched
//! and filtered by demand, written as three audiences plus their test files.
//! The rules are in docs/layer3-contract.md.

pub mod explain;
pub mod queries;
pub mod rules;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::json;
use uuid::Uuid;

use self::queries::{Profiles, VariantInfo};
use self::rules::{ActionKind, Audience, Demand, DemandCounts, Kept, Picker, Row, Thresholds};
use crate::db::{database_for, RunSettings, RunSnapshot};
use crate::error::{EngineError, Result};
use crate::output::{prepare_output_dir, FileName, FileSet};
use crate::registry::{Generator, GeneratorInfo, GeneratorOutput, OutputFile, RunContext};

pub const NAME: &str = "layer3-behavior";
/// The version of Layer 3's rules (docs/layer3-contract.md), recorded in run manifests.
pub const VERSION: &str = "1.0.0";

pub static GENERATOR: Generator = Generator {
    info: GeneratorInfo {
        name: NAME,
        layer_id: 3,
        description: "Behavior response: users whose recent high-intent action (trade offer created > closet add > wishlist add) \
                      in the window targets a variant with enough demand",
        legacy_script_ids: &["generate_layer_3_push_csvs"],
    },
    run: run_boxed,
};

fn run_boxed(ctx: &RunContext) -> BoxFuture<'_, Result<GeneratorOutput>> {
    Box::pin(run(ctx))
}

/// The window of rule 1: `[asOf − (lookback − cooling) h, asOf − cooling h)`.
pub fn window(as_of: DateTime<Utc>, lookback_hours: f64, cooling_hours: f64) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = as_of - crate::time::hours(cooling_hours);
    let start = as_of - crate::time::hours(lookback_hours - cooling_hours);
    (start, end)
}

/// One audience after the filter. Rows are built from `Enrichment` as they are written,
/// so the run never holds all rows as strings at once.
struct AudienceRows {
    audience: Audience,
    before_filter: usize,
    kept: Vec<Kept>,
}

/// The profile and variant columns of the kept rows.
struct Enrichment {
    profiles: Profiles,
    variants: HashMap<Uuid, VariantInfo>,
}

impl Enrichment {
    fn row(&self, kept: &Kept) -> Row {
        to_row(kept, &self.profiles, &self.variants)
    }
}

async fn run(ctx: &RunContext) -> Result<GeneratorOutput> {
    let options = &ctx.options;
    let log = &ctx.logger;
    let output_dir = if options.dry_run { None } else { Some(prepare_output_dir(&options.output_dir)?) };

    let phase = log.phase("connect", "opening a read-only snapshot on 3 connections");
    let database = database_for(&options.database_url)?;
    let settings = RunSettings { statement_timeout: options.statement_timeout, acquire_timeout: options.acquire_timeout };
    let mut snapshot = RunSnapshot::open(&database, 3, settings, ctx.cancel.clone()).await?;
    let as_of = options.as_of.unwrap_or(snapshot.now);
    let (start, end) = window(as_of, options.lookback_hours, options.cooling_hours);
    let mut timings = HashMap::new();
    timings.insert("connect", phase.end(format!("window [{}, {})", crate::time::iso(start), crate::time::iso(end))));
    let [c0, c1, c2] = snapshot.connections.as_mut_slice() else {
        return Err(EngineError::internal("the snapshot did not open 3 connections"));
    };

    // The three kinds of action are read in parallel, each into its own picker.
    let phase = log.phase("activity", "reading the window's actions");
    let (start_at, end_at) = (queries::utc_wall_clock(start), queries::utc_wall_clock(end));
    let (mut offers, mut closet, mut wishlist) = (Picker::default(), Picker::default(), Picker::default());
    tokio::try_join!(
        c0.canceller.guard(queries::read_actions(&mut c0.tx, ActionKind::OfferCreated, start_at, end_at, &mut offers)),
        c1.canceller.guard(queries::read_actions(&mut c1.tx, ActionKind::ClosetAdd, start_at, end_at, &mut closet)),
        c2.canceller.guard(queries::read_actions(&mut c2.tx, ActionKind::WishlistAdd, start_at, end_at, &mut wishlist)),
    )?;
    let (picks, activity) = Picker::merge([offers, closet, wishlist]).finish();
    timings.insert(
        "activity",
        phase.end(format!(
            "{} activity rows (offer_created {}, closet_add {}, wishlist_add {}), {} unique users",
            activity.total,
            activity.offer_created,
            activity.closet_add,
            activity.wishlist_add,
            picks.len()
        )),
    );

    // Only the picked variants' demand matters; the two counts run in parallel.
    let phase = log.phase("demand", "counting all-time demand for the picked variants");
    let inventory_variants = rules::variants_needing(&picks, Demand::Inventory);
    let wishlist_variants = rules::variants_needing(&picks, Demand::Wishlist);
    let (inventory, wishlist) = tokio::try_join!(
        c1.canceller.guard(queries::read_inventory_counts_for(&mut c1.tx, &inventory_variants)),
        c2.canceller.guard(queries::read_wishlist_counts_for(&mut c2.tx, &wishlist_variants)),
    )?;
    let counts = DemandCounts { inventory, wishlist };
    timings.insert(
        "demand",
        phase.end(format!(
            "{} inventory and {} wishlist variants counted",
            inventory_variants.len(),
            wishlist_variants.len()
        )),
    );
    drop((inventory_variants, wishlist_variants));

    let mut metadata = json!({
        "generator": NAME,
        "automationId": options.automation_id,
        "asOf": crate::time::iso(as_of),
        "window": { "start": crate::time::iso(start), "end": crate::time::iso(end) },
        "dryRun": options.dry_run,
        "options": options.to_public_json(),
    });

    if picks.is_empty() {
        snapshot.finish().await?;
        log.info("no activity in the window: no files written");
        metadata["reason"] = json!("no_activity");
        metadata["counts"] = json!({ "activityRows": activity, "uniqueUsers": 0 });
        metadata["phasesMs"] = json!(timings);
        return Ok(GeneratorOutput { files: Vec::new(), manifest_path: None, audience_size: 0, metadata });
    }

    let thresholds =
        Thresholds { min_inventory_count: options.min_inventory_count, min_wishlist_count: options.min_wishlist_count };
    let filtered = rules::filter_and_order(&picks, &counts, thresholds);
    let unique_users = picks.len();
    drop((picks, counts));
    let kept_total: usize = filtered.iter().map(|(_, kept)| kept.len()).sum();
    log.info(format!("demand filter: {kept_total} of {unique_users} users kept"));

    let phase = log.phase("enrich", "reading profiles and variants of the kept users");
    let users: Vec<Uuid> = filtered.iter().flat_map(|(_, kept)| kept.iter().map(|k| k.pick.action.user_id)).collect();
    let mut variants: Vec<Uuid> =
        filtered.iter().flat_map(|(_, kept)| kept.iter().map(|k| k.pick.action.variant_id)).collect();
    variants.sort_unstable();
    variants.dedup();
    let (names, sizes, last_active, variant_info) = if users.is_empty() {
        Default::default()
    } else {
        let names_and_variants = async {
            let names = c0.canceller.guard(queries::read_names(&mut c0.tx, &users)).await?;
            let variants = c0.canceller.guard(queries::read_variants(&mut c0.tx, &variants)).await?;
            Ok::<_, EngineError>((names, variants))
        };
        let ((names, variant_info), sizes, last_active) = tokio::try_join!(
            names_and_variants,
            c1.canceller.guard(queries::read_sizes(&mut c1.tx, &users)),
            c2.canceller.guard(queries::read_last_active(&mut c2.tx, &users)),
        )?;
        (names, sizes, last_active, variant_info)
    };
    snapshot.finish().await?;
    let enrichment = Enrichment { profiles: Profiles { names, sizes, last_active }, variants: variant_info };
    let audiences: Vec<AudienceRows> = Audience::ALL
        .into_iter()
        .zip(filtered)
        .map(|(audience, (before_filter, kept))| AudienceRows { audience, before_filter, kept })
        .collect();
    timings.insert(
        "enrich",
        phase.end(format!("{} profiles, {} variants", enrichment.profiles.names.len(), enrichment.variants.len())),
    );

    let audience_counts: serde_json::Map<String, serde_json::Value> = audiences
        .iter()
        .map(|a| {
            (a.audience.as_str().to_string(), json!({ "beforeFilter": a.before_filter, "afterFilter": a.kept.len() }))
        })
        .collect();
    metadata["counts"] = json!({
        "activityRows": activity,
        "uniqueUsers": audiences.iter().map(|a| a.before_filter).sum::<usize>(),
        "audiences": audience_counts,
    });
    let audience_size = audiences.iter().map(|a| a.kept.len()).sum();

    ctx.check_cancelled()?;
    let manifest = manifest_base(ctx, &metadata);
    let (files, manifest_path) = match output_dir {
        None => {
            log.info(format!("dry run: {audience_size} rows computed, no files written"));
            let planned: Vec<serde_json::Value> = audiences
                .iter()
                .flat_map(|a| {
                    [(a.kept.len(), false), (1, true)].map(|(rows, test)| {
                        json!({ "audienceType": a.audience.as_str(), "isTestFile": test, "rowCount": rows })
                    })
                })
                .collect();
            metadata["manifest"] = with_files(manifest, None, planned);
            (Vec::new(), None)
        }
        Some(dir) => {
            let phase = log.phase("write", "writing the CSV files and the run manifest");
            let stamp = crate::time::file_stamp(ctx.started_at);
            let written = tokio::task::spawn_blocking(move || write_files(dir, stamp, &audiences, &enrichment, manifest))
                .await
                .map_err(|e| EngineError::internal(format!("the CSV writer thread failed: {e}")))??;
            timings.insert("write", phase.end(format!("{} files and {}", written.0.len(), MANIFEST_SUFFIX.trim_start_matches('.'))));
            written
        }
    };
    metadata["phasesMs"] = json!(timings);
    Ok(GeneratorOutput { files, manifest_path, audience_size, metadata })
}

const MANIFEST_SUFFIX: &str = ".manifest.json";

/// What the run manifest says besides its files: what ran, with which options, on which window.
fn manifest_base(ctx: &RunContext, metadata: &serde_json::Value) -> serde_json::Value {
    json!({
        "manifestVersion": 1,
        "generator": { "name": NAME, "version": VERSION },
        "engine": { "name": "audience-engine", "version": env!("CARGO_PKG_VERSION") },
        "automationId": ctx.options.automation_id,
        "runStartedAt": crate::time::iso(ctx.started_at),
        "asOf": metadata["asOf"],
        "window": metadata["window"],
        "options": metadata["options"],
        "counts": metadata["counts"],
    })
}

fn with_files(mut manifest: serde_json::Value, stamp: Option<&str>, files: Vec<serde_json::Value>) -> serde_json::Value {
    manifest["stamp"] = json!(stamp);
    manifest["files"] = json!(files);
    manifest
}

pub(crate) fn to_row(kept: &Kept, profiles: &Profiles, variants: &HashMap<Uuid, VariantInfo>) -> Row {
    let action = &kept.pick.action;
    let user = &action.user_id;
    let variant = variants.get(&action.variant_id);
    Row {
        user_id: user.to_string(),
        username: profiles.username(user).to_string(),
        first_name: profiles.first_name(user).to_string(),
        usersize: profiles.usersize(user).to_string(),
        relevant_variant_size: variant.map_or_else(|| "Unknown".to_string(), |v| v.size.clone()),
        product_name: variant.map(|v| v.product_name.clone()).unwrap_or_default(),
        variant_id: action.variant_id.to_string(),
        last_active: profiles.last_active(user).to_string(),
        count: kept.count.to_string(),
    }
}

fn write_files(
    dir: std::path::PathBuf,
    stamp: String,
    audiences: &[AudienceRows],
    enrichment: &Enrichment,
    manifest: serde_json::Value,
) -> Result<(Vec<OutputFile>, Option<std::path::PathBuf>)> {
    let mut set = FileSet::new(dir.clone(), stamp);
    let mut planned = Vec::new();
    let now = Utc::now();
    for audience in audiences {
        let header = audience.audience.header();
        let prefix = audience.audience.file_prefix();
        let rows = set.add_csv(FileName::new(format!("{prefix}_"), ".csv"), |w| {
            w.write_record(header)?;
            for kept in &audience.kept {
                w.write_record(enrichment.row(kept).fields())?;
            }
            Ok(audience.kept.len())
        })?;
        planned.push((audience.audience, rows, false));
        let test = rules::test_row(audience.kept.first().map(|k| enrichment.row(k)).as_ref(), now);
        set.add_csv(FileName::new(format!("{prefix}_TEST_"), ".csv"), |w| {
            w.write_record(header)?;
            w.write_record(test.fields())?;
            Ok(1)
        })?;
        planned.push((audience.audience, 1, true));
    }
    let make_manifest = |stamp: &str, written: &[crate::output::WrittenFile]| {
        let files = written
            .iter()
            .zip(&planned)
            .map(|(file, (audience, row_count, is_test_file))| {
                json!({
                    "name": file.name.with_stamp(stamp),
                    "audienceType": audience.as_str(),
                    "isTestFile": is_test_file,
                    "rowCount": row_count,
                    "bytes": file.bytes,
                    "sha256": file.sha256,
                })
            })
            .collect();
        let mut text = serde_json::to_vec_pretty(&with_files(manifest.clone(), Some(stamp), files)).unwrap_or_default();
        text.push(b'\n');
        text
    };
    let manifest_name = FileName::new("", MANIFEST_SUFFIX);
    let (written, final_stamp) = set.commit_with_last(Some((manifest_name.clone(), &make_manifest)))?;
    let manifest_path = Some(dir.join(manifest_name.with_stamp(&final_stamp)));
    let files = written
        .into_iter()
        .zip(planned)
        .map(|(file, (audience, row_count, is_test_file))| OutputFile {
            path: file.path,
            row_count,
            is_test_file,
            audience_type: audience.as_str().to_string(),
        })
        .collect();
    Ok((files, manifest_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_ends_a_cooling_period_before_as_of() {
        let as_of = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let (start, end) = window(as_of, 48.0, 12.0);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap());
        let (start, end) = window(as_of, 1.5, 0.0);
        assert_eq!((as_of - start).num_minutes(), 90);
        assert_eq!(end, as_of);
    }
}
