//! Layer 5, the new-user waterfall: the accounts created between `maxDays` days and `minHours`
//! hours before `asOf`, each in the first of five levels whose check it fails (no closet item,
//! no bio, no offer, no wishlist item, or none: new stars), levels 3 to 5 with the user's top
//! target shoe. The rules are in docs/layer5-contract.md.

pub mod explain;
pub mod levels;
pub mod options;
pub mod queries;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use rustc_hash::FxHashMap;
use serde_json::json;
use uuid::Uuid;

use self::levels::{Completion, Level};
use self::options::Layer5Options;
use self::queries::{Check, NewUser, TargetShoe, TargetSource};
use crate::db::{Planner, RunSnapshot};
use crate::error::{EngineError, Result};
use crate::generator::{
    ExplainContext, Generator, GeneratorInfo, GeneratorOutput, OutputFile, RunContext, ScriptParameter,
    explanation_json,
};
use crate::output::{
    AudienceCsv, FileName, FileSet, LineEnd, MANIFEST_SUFFIX, ManifestSource, manifest_base, prepare_output_dir,
    with_files, write_with_manifest,
};

pub const NAME: &str = "layer5-waterfall";
/// The version of Layer 5's rules (docs/layer5-contract.md), recorded in run manifests.
pub const VERSION: &str = "1.0.0";

pub static GENERATOR: Generator = Generator {
    info: GeneratorInfo {
        name: NAME,
        layer_id: 5,
        description: "New-user waterfall: accounts created between maxDays days and minHours hours ago, each in the first \
                      onboarding step they have not done (closet item, bio, offer, wishlist item) or in new stars",
        legacy_script_ids: &["generate_new_user_waterfall"],
        options: options::OPTIONS,
        parameters: &[
            ScriptParameter { name: "min_hours", option: "minHours", default: options::DEFAULT_MIN_HOURS },
            ScriptParameter { name: "max_days", option: "maxDays", default: options::DEFAULT_MAX_DAYS },
        ],
    },
    run: run_boxed,
    explain: Some(explain_boxed),
};

fn run_boxed(ctx: &RunContext) -> BoxFuture<'_, Result<GeneratorOutput>> {
    Box::pin(run(ctx))
}

fn explain_boxed<'a>(user_id: &'a str, ctx: &'a ExplainContext) -> BoxFuture<'a, Result<serde_json::Value>> {
    Box::pin(async move {
        let layer5 = Layer5Options::parse(&ctx.options.own)?;
        explanation_json(user_id, async |id| {
            explain::explain(id, &ctx.options, &layer5, &ctx.logger, ctx.cancel.clone()).await
        })
        .await
    })
}

/// Rule 1's window: `[asOf − maxDays days, asOf − minHours hours]`, both ends included.
pub fn base_window(as_of: DateTime<Utc>, options: &Layer5Options) -> (DateTime<Utc>, DateTime<Utc>) {
    (as_of - crate::time::hours(options.max_days * 24.0), as_of - crate::time::hours(options.min_hours))
}

/// The base set's users of each level, in the base set's order, and the target shoes of
/// levels 3 to 5.
struct Waterfall {
    users: Vec<NewUser>,
    levels: [Vec<usize>; 5],
    targets: FxHashMap<Uuid, TargetShoe>,
}

impl Waterfall {
    fn users_of(&self, level: Level) -> impl Iterator<Item = &NewUser> {
        self.levels[level as usize].iter().map(|index| &self.users[*index])
    }

    fn row(&self, user: &NewUser, level: Level) -> Vec<String> {
        let mut row =
            vec![user.id.to_string(), user.username.clone(), user.first_name.clone(), level.number().to_string()];
        if level.has_target_shoe() {
            match self.targets.get(&user.id) {
                Some(shoe) => row.extend([shoe.product_name.clone(), shoe.variant_id.to_string()]),
                None => row.extend([String::new(), String::new()]),
            }
        }
        row
    }

    /// The funnel: the base set, then each level's users and those left after it.
    fn counts(&self) -> serde_json::Value {
        let mut remaining = self.users.len();
        let levels: serde_json::Map<String, serde_json::Value> = Level::ALL
            .iter()
            .map(|level| {
                let extracted = self.levels[*level as usize].len();
                remaining -= extracted;
                (
                    level.number().to_string(),
                    json!({ "audienceType": level.as_str(), "extracted": extracted, "remainingAfter": remaining }),
                )
            })
            .collect();
        json!({ "baseUsers": self.users.len(), "levels": levels })
    }
}

async fn run(ctx: &RunContext) -> Result<GeneratorOutput> {
    let options = &ctx.options;
    let layer5 = Layer5Options::parse(&options.own)?;
    let log = &ctx.logger;
    // Checked before any query; the directories it creates go again unless files are written.
    let output_dir = if options.dry_run { None } else { Some(prepare_output_dir(&options.output_dir)?) };

    let phase = log.phase("connect", "opening a read-only snapshot");
    let mut snapshot = RunSnapshot::for_run(options, 1, Planner::Lookup, ctx.cancel.clone()).await?;
    let as_of = options.as_of.unwrap_or(snapshot.now);
    let (from, to) = base_window(as_of, &layer5);
    let mut timings = HashMap::new();
    let window = json!({ "start": crate::time::iso(from), "end": crate::time::iso(to), "endIncluded": true });
    timings.insert(
        "connect",
        phase.end(format!("accounts created in [{}, {}]", crate::time::iso(from), crate::time::iso(to))),
    );

    let connection = &mut snapshot.connections[0];
    let guard = connection.canceller.clone();
    let tx = &mut connection.tx;
    let utc = |t: DateTime<Utc>| t.naive_utc();

    let phase = log.phase("base", "reading the new users");
    let users = log.timed("base", "new users", guard.guard(queries::read_base_set(tx, utc(from), utc(to)))).await?;
    timings.insert("base", phase.end(format!("{} new users", users.len())));

    let mut metadata = json!({
        "generator": NAME,
        "automationId": options.automation_id,
        "asOf": crate::time::iso(as_of),
        "window": window,
        "dryRun": options.dry_run,
        "options": options.to_public_json(layer5.to_json()),
    });
    if users.is_empty() {
        snapshot.finish().await?;
        log.info("no new user in the window: no files written");
        metadata["reason"] = json!("no_new_users");
        metadata["counts"] = json!({ "baseUsers": 0, "levels": {} });
        metadata["phasesMs"] = json!(timings);
        return Ok(GeneratorOutput { files: Vec::new(), manifest_path: None, audience_size: 0, metadata });
    }

    let phase = log.phase("levels", "checking closet items, offers and wishlist items (bios came with the base set)");
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let mut found = Vec::with_capacity(Check::ALL.len());
    for check in Check::ALL {
        found.push(log.timed("levels", check.label(), guard.guard(queries::read_check(tx, check, &ids))).await?);
    }
    let [has_closet_item, has_offer, has_wishlist_item]: [_; 3] =
        found.try_into().map_err(|_| EngineError::internal("three checks, three answers"))?;
    let has_bio = users.iter().filter(|u| u.has_bio).map(|u| u.id).collect();
    let completion = Completion { has_closet_item, has_bio, has_offer, has_wishlist_item };
    let levels = levels::waterfall(&ids, &completion);
    let sizes = Level::ALL.map(|l| levels[l as usize].len());
    timings.insert(
        "levels",
        phase.end(format!(
            "no shoes {}, no bio {}, no offers {}, no wishlist {}, new stars {}",
            sizes[0], sizes[1], sizes[2], sizes[3], sizes[4]
        )),
    );

    let phase = log.phase("targets", "finding the top target shoe of levels 3 to 5");
    let mut waiting: Vec<Uuid> = Level::ALL
        .iter()
        .filter(|l| l.has_target_shoe())
        .flat_map(|l| levels[*l as usize].iter().map(|index| ids[*index]))
        .collect();
    waiting.sort_unstable();
    let mut targets = FxHashMap::default();
    for source in TargetSource::ALL {
        let shoes =
            log.timed("targets", source.label(), guard.guard(queries::read_target_shoes(tx, source, &waiting))).await?;
        waiting.retain(|user| !shoes.contains_key(user));
        targets.extend(shoes);
    }
    timings.insert("targets", phase.end(format!("{} shoes found, {} users without one", targets.len(), waiting.len())));
    snapshot.finish().await?;

    let waterfall = Waterfall { users, levels, targets };
    metadata["counts"] = waterfall.counts();
    let audience_size = waterfall.users.len();
    ctx.check_cancelled()?;
    let source = ManifestSource {
        generator: NAME,
        version: VERSION,
        automation_id: options.automation_id.as_deref(),
        started_at: ctx.started_at,
    };
    let manifest = manifest_base(&source, &metadata);
    let filled: Vec<Level> = Level::ALL.into_iter().filter(|l| !waterfall.levels[*l as usize].is_empty()).collect();
    let (files, manifest_path) = match output_dir {
        None => {
            log.info(format!("dry run: {audience_size} rows computed, no files written"));
            let planned = filled
                .iter()
                .flat_map(|level| {
                    [(waterfall.levels[*level as usize].len(), false), (1, true)].map(
                        |(rows, test)| json!({ "audienceType": level.as_str(), "isTestFile": test, "rowCount": rows }),
                    )
                })
                .collect();
            metadata["manifest"] = with_files(manifest, None, planned);
            (Vec::new(), None)
        }
        Some(mut dir) => {
            let phase = log.phase("write", "writing the CSV files and the run manifest");
            let stamp = crate::time::file_stamp(ctx.started_at);
            let written = tokio::task::spawn_blocking(move || {
                let written = write_files(dir.for_writing()?.to_path_buf(), stamp, &waterfall, &filled, manifest)?;
                dir.keep();
                Ok::<_, EngineError>(written)
            })
            .await
            .map_err(|e| EngineError::internal(format!("the CSV writer thread failed: {e}")))??;
            timings.insert(
                "write",
                phase.end(format!("{} files and {}", written.0.len(), MANIFEST_SUFFIX.trim_start_matches('.'))),
            );
            written
        }
    };
    metadata["phasesMs"] = json!(timings);
    Ok(GeneratorOutput { files, manifest_path, audience_size, metadata })
}

/// Each level with users: its file and its test file (contract sections 4 to 6), then the manifest.
fn write_files(
    dir: std::path::PathBuf,
    stamp: String,
    waterfall: &Waterfall,
    filled: &[Level],
    manifest: serde_json::Value,
) -> Result<(Vec<OutputFile>, Option<std::path::PathBuf>)> {
    let set = FileSet::new(dir, stamp).with_line_end(LineEnd::CrLf);
    let mut csvs = Vec::new();
    for level in filled.iter().copied() {
        let prefix = level.file_prefix();
        csvs.push(AudienceCsv {
            name: FileName::new(format!("{prefix}-"), ".csv"),
            rows: Box::new(move |w| {
                w.write_record(level.header())?;
                let mut rows = 0;
                for user in waterfall.users_of(level) {
                    w.write_record(waterfall.row(user, level))?;
                    rows += 1;
                }
                Ok(rows)
            }),
            audience_type: level.as_str(),
            is_test_file: false,
        });
        csvs.push(AudienceCsv {
            name: FileName::new(format!("{prefix}-test-"), ".csv"),
            rows: Box::new(move |w| {
                w.write_record(level.header())?;
                w.write_record(levels::test_row(level))?;
                Ok(1)
            }),
            audience_type: level.as_str(),
            is_test_file: true,
        });
    }
    write_with_manifest(set, csvs, &manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_base_window_runs_from_max_days_to_min_hours_before_as_of() {
        let as_of = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let (from, to) = base_window(as_of, &Layer5Options::default());
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 11, 14, 12, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap());
    }
}
