//! Layer 3, behavior response: users' recent high-intent actions, one per user, enriched
//! and filtered by demand, written as three audiences plus their test files.
//! The rules are in docs/layer3-contract.md.

pub mod columns;
pub mod explain;
pub mod options;
pub mod queries;
pub mod rules;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::future::BoxFuture;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;
use sqlx::PgConnection;
use tokio::sync::Notify;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use self::columns::Slots;
use self::options::{Layer3Options, Rules};
use self::queries::{Profiles, Variants};
use self::rules::{ActionKind, Audience, Demand, Filtered, Kept, Pick, Picker, Row, Thresholds};
use crate::db::{Planner, RunSnapshot, SharedConnections, TimedQueries};
use crate::error::{EngineError, Result};
use crate::generator::{
    ExplainContext, Generator, GeneratorInfo, GeneratorOutput, OutputFile, RunContext, ScriptParameter,
    explanation_json,
};
use crate::log::{Level, Logger};
use crate::output::{
    AudienceCsv, CsvSink, FileName, FileSet, LineEnd, MANIFEST_SUFFIX, ManifestSource, manifest_base,
    prepare_output_dir, with_files, write_with_manifest,
};

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
        options: options::OPTIONS,
        parameters: &[
            ScriptParameter {
                name: "lookback_hours",
                option: "lookbackHours",
                default: options::DEFAULT_LOOKBACK_HOURS,
            },
            ScriptParameter { name: "cooling_hours", option: "coolingHours", default: options::DEFAULT_COOLING_HOURS },
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
        let layer3 = Layer3Options::parse(&ctx.options.own)?;
        explanation_json(user_id, async |id| {
            explain::explain(id, &ctx.options, &layer3, &ctx.logger, ctx.cancel.clone()).await
        })
        .await
    })
}

/// The window a run reads: its start (included) and the bound its actions must be below, and
/// how a message shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: DateTime<Utc>,
    /// Exclusive: `created_at < end`.
    pub end: DateTime<Utc>,
    /// The last instant named in messages: `None` when there is no upper bound.
    pub shown_end: Option<DateTime<Utc>>,
    pub end_included: bool,
}

/// The window of the run's rules: rule 1 of the contract, or under `v1` the production
/// script's `created_at >= asOf − (lookback − cooling) h`, up to `asOf` included when the
/// caller gave one and without an upper bound when not (the script's `>= now() − …`).
pub fn run_window(
    rules: Rules,
    as_of: DateTime<Utc>,
    as_of_given: bool,
    lookback_hours: f64,
    cooling_hours: f64,
) -> Window {
    match rules {
        Rules::V2 => {
            let (start, end) = window(as_of, lookback_hours, cooling_hours);
            Window { start, end, shown_end: Some(end), end_included: false }
        }
        Rules::V1 => {
            let start = as_of - crate::time::hours(lookback_hours - cooling_hours);
            // Timestamps have microseconds: `< asOf + 1 µs` is `<= asOf`.
            let (end, shown_end) = if as_of_given {
                (as_of + chrono::TimeDelta::microseconds(1), Some(as_of))
            } else {
                (crate::time::LAST_INSTANT, None)
            };
            Window { start, end, shown_end, end_included: true }
        }
    }
}

impl Window {
    /// `[start, end)`, `[start, end]` or `[start, no upper bound)`.
    pub fn describe(&self) -> String {
        match (self.shown_end, self.end_included) {
            (Some(end), false) => format!("[{}, {})", crate::time::iso(self.start), crate::time::iso(end)),
            (Some(end), true) => format!("[{}, {}]", crate::time::iso(self.start), crate::time::iso(end)),
            (None, _) => format!("[{}, no upper bound)", crate::time::iso(self.start)),
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        let mut json = json!({ "start": crate::time::iso(self.start), "end": self.shown_end.map(crate::time::iso) });
        if self.end_included {
            json["endIncluded"] = json!(true);
        }
        json
    }
}

/// The window of rule 1: `[asOf − (lookback − cooling) h, asOf − cooling h)`.
pub fn window(as_of: DateTime<Utc>, lookback_hours: f64, cooling_hours: f64) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = as_of - crate::time::hours(cooling_hours);
    let start = as_of - crate::time::hours(lookback_hours - cooling_hours);
    (start, end)
}

/// Warns when the window holds no instant: `lookbackHours ≤ 2 × coolingHours` is allowed (as in
/// V1, by the contract's rule `coolingHours < lookbackHours`), but no action can then count.
pub(crate) fn warn_if_empty_window(log: &Logger, lookback_hours: f64, cooling_hours: f64) {
    if lookback_hours <= 2.0 * cooling_hours {
        log.log(
            Level::Warn,
            None,
            format!(
                "the window is empty: it runs from asOf − (lookbackHours − coolingHours) to asOf − coolingHours, \
                 and lookbackHours {lookback_hours} is not more than twice coolingHours {cooling_hours}, so no action can count"
            ),
        );
    }
}

/// One audience after the filter. Rows are formatted from `Enrichment` as they are written,
/// so the run never holds all rows as strings at once.
struct AudienceRows {
    audience: Audience,
    filtered: Filtered,
}

/// The profile and variant columns of the kept rows. A row's profile is at its slot
/// (`Kept::slot`).
#[derive(Default)]
struct Enrichment {
    profiles: Profiles,
    variants: Variants,
}

impl Enrichment {
    fn row(&self, kept: &Kept, rules: Rules) -> Row {
        to_row(kept, &self.profiles, &self.variants, rules)
    }

    /// Writes a row without allocating (but for `lastActive` under rules `v1`): ids and the
    /// count go through `buffers`.
    fn write_row(&self, w: &mut CsvSink, kept: &Kept, rules: Rules, buffers: &mut RowBuffers) -> csv::Result<()> {
        let profile = self.profiles.at(kept.slot as usize);
        let (product_name, variant_size) = variant_columns(&self.variants, &kept.variant_id, rules);
        let last_active = last_active_text(profile.last_active, rules);
        buffers.count.clear();
        write!(buffers.count, "{}", kept.count)
            .map_err(|_| csv::Error::from(std::io::Error::other("formatting a count")))?;
        w.write_record([
            &*kept.user_id.hyphenated().encode_lower(&mut buffers.user_id),
            profile.username,
            profile.first_name,
            profile.usersize,
            variant_size,
            product_name,
            &*kept.variant_id.hyphenated().encode_lower(&mut buffers.variant_id),
            &last_active,
            &buffers.count,
        ])
    }
}

/// `relevant_variant_size` of a variant without `mens_size` (or not found).
const UNKNOWN_SIZE: &str = "Unknown";

/// A variant's product name and `relevant_variant_size`; under rules `v1` an empty size is
/// `Unknown` too.
fn variant_columns<'v>(variants: &'v Variants, variant: &Uuid, rules: Rules) -> (&'v str, &'v str) {
    match variants.get(variant) {
        None => ("", UNKNOWN_SIZE),
        Some((product, "")) if rules == Rules::V1 => (product, UNKNOWN_SIZE),
        Some(columns) => columns,
    }
}

/// `lastActive` as the rules write it: PostgreSQL's text, or Python's under `v1`.
fn last_active_text(pg: &str, rules: Rules) -> Cow<'_, str> {
    match rules {
        Rules::V2 => Cow::Borrowed(pg),
        Rules::V1 => rules::python_timestamp_text(pg),
    }
}

struct RowBuffers {
    user_id: [u8; Hyphenated::LENGTH],
    variant_id: [u8; Hyphenated::LENGTH],
    count: String,
}

impl RowBuffers {
    fn new() -> Self {
        RowBuffers { user_id: [0; Hyphenated::LENGTH], variant_id: [0; Hyphenated::LENGTH], count: String::new() }
    }
}

/// The window's actions of one kind, read into a picker of their own.
async fn read_kind(
    conn: &mut PgConnection,
    kind: ActionKind,
    window: (NaiveDateTime, NaiveDateTime),
) -> Result<Picker> {
    let mut picker = Picker::default();
    queries::read_actions(conn, kind, window, &mut picker).await?;
    Ok(picker)
}

/// The demand counts, the filter and the enrich reads, overlapped (bench/README.md has the
/// numbers). The two counts run in parallel. The sizes of every picked user need no count, so
/// they are read on the connection the first count to finish frees: the other count then
/// shares the two cores instead of running alone. The other reads need the filter's result and
/// start when both counts are in; only the kept users and their variants are read.
async fn count_filter_enrich(
    q: &TimedQueries<'_, '_>,
    timings: &mut HashMap<&'static str, f64>,
    picks: Vec<Pick>,
    deleted: Vec<Uuid>,
    size_values: &[(Uuid, String)],
    thresholds: Thresholds,
) -> Result<(Vec<AudienceRows>, Enrichment)> {
    let log = q.log;
    let phase = log.phase("demand", "counting all-time demand for the picked variants");
    // In user id order, as the picks are: sorted for the database (see `queries`). Dropped
    // once the sizes are read.
    let picked_users: Vec<Uuid> = picks.iter().map(|p| p.action.user_id).collect();
    let first_count_in = &Notify::new();
    let sizes_of_picked_users = async move {
        first_count_in.notified().await;
        let read = async |c: &mut PgConnection| queries::read_sizes(c, &picked_users, size_values).await;
        q.run("demand", "sizes of the picked users", read).await
    };
    let filtered_and_enriched = async {
        let variants_of = |demand| rules::variants_needing(&picks, demand);
        let (inventory_variants, wishlist_variants) = (variants_of(Demand::Inventory), variants_of(Demand::Wishlist));
        let count = async |demand, variants: &[Uuid]| {
            let minimum = thresholds.minimum(demand);
            let read = async |c: &mut PgConnection| queries::read_counts(c, demand, variants, &deleted, minimum).await;
            let counts = q.run("demand", counts_label(demand), read).await;
            first_count_in.notify_one();
            counts
        };
        let (inventory, wishlist) = tokio::try_join!(
            count(Demand::Inventory, &inventory_variants),
            count(Demand::Wishlist, &wishlist_variants),
        )?;
        timings.insert(
            "demand",
            phase.end(format!(
                "{} inventory and {} wishlist variants counted",
                inventory_variants.len(),
                wishlist_variants.len()
            )),
        );
        drop((inventory_variants, wishlist_variants, deleted));
        let counts = [(Demand::Inventory, inventory), (Demand::Wishlist, wishlist)];
        let audiences = filter_audiences(&picks, counts, thresholds);
        let kept: usize = audiences.iter().map(|a| a.filtered.kept.len()).sum();
        log.info(format!("demand filter: {kept} of {} users kept", picks.len()));
        drop(picks);
        let phase = log.phase("enrich", "reading profiles and variants of the kept users");
        let enrichment = enrich_kept(q, &audiences).await?;
        Ok::<_, EngineError>((audiences, enrichment, phase))
    };
    let (sizes, (audiences, mut enrichment, phase)) = tokio::try_join!(sizes_of_picked_users, filtered_and_enriched)?;
    enrichment.profiles.sizes = sizes.column(&enrichment.profiles.slots);
    timings.insert(
        "enrich",
        phase.end(format!(
            "{} profiles, {} variants",
            enrichment.profiles.usernames.count(),
            enrichment.variants.len()
        )),
    );
    Ok((audiences, enrichment))
}

/// The audiences after the demand filter (rule 5), in `Audience` order, their rows numbered in
/// file order (`rules::number_rows`).
fn filter_audiences(
    picks: &[Pick],
    counts: [(Demand, FxHashMap<Uuid, i64>); 2],
    thresholds: Thresholds,
) -> Vec<AudienceRows> {
    let mut audiences: Vec<AudienceRows> = Vec::new();
    for (demand, counts) in counts {
        let filtered = rules::filter_and_order(picks, demand, &counts, thresholds.minimum(demand));
        let rows = demand.audiences().iter().zip(filtered).map(|(a, filtered)| AudienceRows { audience: *a, filtered });
        audiences.extend(rows);
    }
    audiences.sort_by_key(|a| a.audience);
    rules::number_rows(audiences.iter_mut().map(|a| &mut a.filtered));
    audiences
}

/// The names, last activity and variants of the kept rows (`audiences`, numbered by
/// `rules::number_rows`); the sizes are read for all picked users (`count_filter_enrich`).
/// The reads start together, the longest first, each on whichever connection is free.
async fn enrich_kept(q: &TimedQueries<'_, '_>, audiences: &[AudienceRows]) -> Result<Enrichment> {
    let rows = || audiences.iter().flat_map(|a| a.filtered.kept.iter());
    // Slot i is the i-th row. The list is then bound sorted (see `queries`).
    let mut users: Vec<Uuid> = rows().map(|k| k.user_id).collect();
    if users.is_empty() {
        return Ok(Enrichment::default());
    }
    let slots = Slots::new(&users);
    users.sort_unstable();
    let mut variant_ids: Vec<Uuid> = rows().map(|k| k.variant_id).collect();
    variant_ids.sort_unstable();
    variant_ids.dedup();
    let (last_active, (usernames, first_names), variants) = tokio::try_join!(
        q.run("enrich", "last activity", async |c| queries::read_last_active(c, &users, &slots).await),
        q.run("enrich", "names", async |c| queries::read_names(c, &users, &slots).await),
        q.run("enrich", "variants", async |c| queries::read_variants(c, &variant_ids).await),
    )?;
    let profiles = Profiles { slots, usernames, first_names, sizes: Default::default(), last_active };
    Ok(Enrichment { profiles, variants })
}

fn counts_label(demand: Demand) -> &'static str {
    match demand {
        Demand::Inventory => "inventory counts",
        Demand::Wishlist => "wishlist counts",
    }
}

async fn run(ctx: &RunContext) -> Result<GeneratorOutput> {
    let options = &ctx.options;
    let layer3 = Layer3Options::parse(&options.own)?;
    let log = &ctx.logger;
    // Checked before any query; the directories it creates go again unless files are written.
    let output_dir = if options.dry_run { None } else { Some(prepare_output_dir(&options.output_dir)?) };

    let phase = log.phase("connect", "opening a read-only snapshot on 3 connections");
    let mut snapshot = RunSnapshot::for_run(options, 3, Planner::Bulk, ctx.cancel.clone()).await?;
    let as_of = options.as_of.unwrap_or(snapshot.now);
    let window = run_window(layer3.rules, as_of, options.as_of.is_some(), layer3.lookback_hours, layer3.cooling_hours);
    if layer3.rules == Rules::V2 {
        warn_if_empty_window(log, layer3.lookback_hours, layer3.cooling_hours);
    }
    let mut timings = HashMap::new();
    let rules_note = if layer3.rules == Rules::V1 { " (rules v1: the production script's)" } else { "" };
    timings.insert("connect", phase.end(format!("window {}{rules_note}", window.describe())));
    let connections = SharedConnections::new(snapshot.connections.iter_mut());
    let q = TimedQueries { connections: &connections, log };

    // The three kinds of action, the deleted users and the size values are independent reads.
    let phase = log.phase("activity", "reading the window's actions and the deleted users");
    let window_at = (queries::utc_wall_clock(window.start), queries::utc_wall_clock(window.end));
    let (offers, closet, wishlist, deleted, size_values) = tokio::try_join!(
        q.run("activity", "offer_created rows", async |c| read_kind(c, ActionKind::OfferCreated, window_at).await),
        q.run("activity", "closet_add rows", async |c| read_kind(c, ActionKind::ClosetAdd, window_at).await),
        q.run("activity", "wishlist_add rows", async |c| read_kind(c, ActionKind::WishlistAdd, window_at).await),
        q.run("activity", "deleted users", async |c| queries::read_deleted_users(c).await),
        q.run("activity", "mens_size values", async |c| queries::read_size_values(c).await),
    )?;
    let deleted_users: FxHashSet<Uuid> = deleted.iter().copied().collect();
    let (picks, activity) = Picker::merge([offers, closet, wishlist]).without_users(&deleted_users).finish();
    drop(deleted_users);
    timings.insert(
        "activity",
        phase.end(format!(
            "{} deleted users left out; {} activity rows (offer_created {}, closet_add {}, wishlist_add {}), {} unique users",
            deleted.len(),
            activity.total,
            activity.offer_created,
            activity.closet_add,
            activity.wishlist_add,
            picks.len()
        )),
    );

    let mut metadata = json!({
        "generator": NAME,
        "automationId": options.automation_id,
        "asOf": crate::time::iso(as_of),
        "window": window.to_json(),
        "rules": layer3.rules.as_str(),
        "dryRun": options.dry_run,
        "options": options.to_public_json(layer3.to_json()),
    });

    if picks.is_empty() {
        drop(connections);
        snapshot.finish().await?;
        log.info("no activity in the window: no files written");
        metadata["reason"] = json!("no_activity");
        metadata["counts"] = json!({ "activityRows": activity, "uniqueUsers": 0 });
        metadata["phasesMs"] = json!(timings);
        return Ok(GeneratorOutput { files: Vec::new(), manifest_path: None, audience_size: 0, metadata });
    }

    let thresholds = layer3.thresholds();
    let (mut audiences, enrichment) =
        count_filter_enrich(&q, &mut timings, picks, deleted, &size_values, thresholds).await?;
    drop(connections);
    snapshot.finish().await?;
    let incomplete = match layer3.rules {
        Rules::V1 => drop_incomplete_profiles(&mut audiences, &enrichment.profiles, log),
        Rules::V2 => Vec::new(),
    };

    let audience_counts: serde_json::Map<String, serde_json::Value> = audiences
        .iter()
        .map(|a| {
            let mut counts = json!({ "beforeFilter": a.filtered.before_filter, "afterFilter": a.filtered.kept.len() });
            if let Some((_, dropped)) = incomplete.iter().find(|(audience, _)| *audience == a.audience) {
                counts["incompleteProfiles"] = json!(dropped);
            }
            (a.audience.as_str().to_string(), counts)
        })
        .collect();
    metadata["counts"] = json!({
        "activityRows": activity,
        "uniqueUsers": audiences.iter().map(|a| a.filtered.before_filter).sum::<usize>(),
        "audiences": audience_counts,
    });
    let audience_size = audiences.iter().map(|a| a.filtered.kept.len()).sum();

    ctx.check_cancelled()?;
    let source = ManifestSource {
        generator: NAME,
        version: VERSION,
        automation_id: options.automation_id.as_deref(),
        started_at: ctx.started_at,
    };
    let manifest = manifest_base(&source, &metadata);
    let (files, manifest_path) = match output_dir {
        None => {
            log.info(format!("dry run: {audience_size} rows computed, no files written"));
            let planned: Vec<serde_json::Value> = audiences
                .iter()
                .filter(|a| writes_files(a, layer3.rules))
                .flat_map(|a| {
                    [(a.filtered.kept.len(), false), (1, true)].map(|(rows, test)| {
                        json!({ "audienceType": a.audience.as_str(), "isTestFile": test, "rowCount": rows })
                    })
                })
                .collect();
            metadata["manifest"] = with_files(manifest, None, planned);
            (Vec::new(), None)
        }
        Some(mut dir) => {
            let phase = log.phase("write", "writing the CSV files and the run manifest");
            let stamp = crate::time::file_stamp(ctx.started_at);
            let rules = layer3.rules;
            let written = tokio::task::spawn_blocking(move || {
                let written =
                    write_files(dir.for_writing()?.to_path_buf(), stamp, &audiences, &enrichment, rules, manifest)?;
                if written.0.is_empty() {
                    // Rules v1 with every audience empty: no file, as the production script.
                    return Ok(written);
                }
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

/// Whether an audience gets its two files: always under `v2`; under `v1` only when it has
/// rows, as the production script.
fn writes_files(audience: &AudienceRows, rules: Rules) -> bool {
    rules == Rules::V2 || !audience.filtered.kept.is_empty()
}

/// Rules `v1`: drops the rows whose first name or size is empty (the production script skips
/// such users), keeping the order of the others. Returns how many each audience lost.
fn drop_incomplete_profiles(
    audiences: &mut [AudienceRows],
    profiles: &Profiles,
    log: &Logger,
) -> Vec<(Audience, usize)> {
    let dropped: Vec<(Audience, usize)> = audiences
        .iter_mut()
        .map(|a| {
            let before = a.filtered.kept.len();
            a.filtered.kept.retain(|k| {
                let profile = profiles.at(k.slot as usize);
                rules::has_complete_profile_v1(profile.first_name, profile.usersize)
            });
            (a.audience, before - a.filtered.kept.len())
        })
        .collect();
    let total: usize = dropped.iter().map(|(_, n)| n).sum();
    log.info(format!("rules v1: {total} rows without a first name or a size dropped, as the production script does"));
    dropped
}

/// The row of `kept`, its profile at `kept.slot` of `profiles`.
pub(crate) fn to_row(kept: &Kept, profiles: &Profiles, variants: &Variants, rules: Rules) -> Row {
    let profile = profiles.at(kept.slot as usize);
    let (product_name, variant_size) = variant_columns(variants, &kept.variant_id, rules);
    Row {
        user_id: kept.user_id.to_string(),
        username: profile.username.to_string(),
        first_name: profile.first_name.to_string(),
        usersize: profile.usersize.to_string(),
        relevant_variant_size: variant_size.to_string(),
        product_name: product_name.to_string(),
        variant_id: kept.variant_id.to_string(),
        last_active: last_active_text(profile.last_active, rules).into_owned(),
        count: kept.count.to_string(),
    }
}

fn write_files(
    dir: std::path::PathBuf,
    stamp: String,
    audiences: &[AudienceRows],
    enrichment: &Enrichment,
    rules: Rules,
    manifest: serde_json::Value,
) -> Result<(Vec<OutputFile>, Option<std::path::PathBuf>)> {
    let line_end = if rules == Rules::V1 { LineEnd::CrLf } else { LineEnd::Lf };
    let set = FileSet::new(dir, stamp).with_line_end(line_end);
    let now = Utc::now();
    // Each audience's file and its test file, all written at once.
    let mut csvs = Vec::new();
    for audience in audiences.iter().filter(|a| writes_files(a, rules)) {
        let header = audience.audience.header();
        let prefix = audience.audience.file_prefix();
        let kept = &audience.filtered.kept;
        csvs.push(AudienceCsv {
            name: FileName::new(format!("{prefix}_"), ".csv"),
            rows: Box::new(move |w| {
                let mut buffers = RowBuffers::new();
                w.write_record(header)?;
                for row in kept {
                    enrichment.write_row(w, row, rules, &mut buffers)?;
                }
                Ok(kept.len())
            }),
            audience_type: audience.audience.as_str(),
            is_test_file: false,
        });
        let test = match rules {
            Rules::V2 => rules::test_row(kept.first().map(|k| enrichment.row(k, rules)).as_ref(), now),
            Rules::V1 => {
                let first_two: Vec<Row> = kept.iter().take(2).map(|k| enrichment.row(k, rules)).collect();
                rules::test_row_v1(&first_two)
                    .ok_or_else(|| EngineError::internal("a v1 test row for an empty audience"))?
            }
        };
        csvs.push(AudienceCsv {
            name: FileName::new(format!("{prefix}_TEST_"), ".csv"),
            rows: Box::new(move |w| {
                w.write_record(header)?;
                w.write_record(test.fields())?;
                Ok(1)
            }),
            audience_type: audience.audience.as_str(),
            is_test_file: true,
        });
    }
    if csvs.is_empty() {
        return Ok((Vec::new(), None));
    }
    write_with_manifest(set, csvs, &manifest)
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
