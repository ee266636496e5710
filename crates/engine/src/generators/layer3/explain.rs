//! `explainUser`: why one user is, or is not, in tonight's audiences. It applies the same
//! rules as the generator (rules.rs) to one user's actions, in one snapshot.

use serde::Serialize;
use uuid::Uuid;

use super::options::{Layer3Options, Rules};
use super::queries;
use super::rules::{Action, ActionKind, Audience, Kept, Pick, Picker};
use super::{Window, run_window};
use crate::db::{Planner, RunSnapshot};
use crate::error::Result;
use crate::log::Logger;
use crate::options::GeneratorOptions;
use crate::time::iso;

/// At most this many actions are listed (the pick still uses every action in the window).
const MAX_LISTED_ACTIONS: usize = 200;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExplainedAction {
    #[serde(rename = "type")]
    pub kind: ActionKind,
    pub record_id: Uuid,
    pub variant_id: Uuid,
    pub product_name: String,
    pub created_at: String,
    pub position: Position,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours_outside: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    InWindow,
    BeforeWindow,
    AfterWindow,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Winner {
    #[serde(flatten)]
    pub action: ExplainedAction,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DemandCheck {
    pub measure: &'static str,
    pub count: i64,
    pub threshold: i64,
    pub passes: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Verdict {
    InAudience {
        audience_type: Audience,
        reason: String,
    },
    NotFound {
        reason: String,
    },
    Deleted {
        reason: String,
    },
    NoActivity {
        reason: String,
    },
    OutsideWindow {
        reason: String,
    },
    BelowDemand {
        audience_type: Audience,
        count: i64,
        threshold: i64,
        reason: String,
    },
    /// Rules `v1` only: the row would lack a first name or a size.
    IncompleteProfile {
        audience_type: Audience,
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub user_id: Uuid,
    pub window: serde_json::Value,
    pub as_of: String,
    pub actions: Vec<ExplainedAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winner: Option<Winner>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demand: Option<DemandCheck>,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<serde_json::Map<String, serde_json::Value>>,
}

pub async fn explain(
    user_id: Uuid,
    options: &GeneratorOptions,
    layer3: &Layer3Options,
    logger: &Logger,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Explanation> {
    let phase = logger.phase("explain", "reading the user's actions");
    let mut snapshot = RunSnapshot::for_run(options, 1, Planner::Bulk, cancel).await?;
    let as_of = options.as_of.unwrap_or(snapshot.now);
    let connection = &mut snapshot.connections[0];
    let guard = connection.canceller.clone();
    let tx = &mut connection.tx;
    let window = run_window(layer3.rules, as_of, options.as_of.is_some(), layer3.lookback_hours, layer3.cooling_hours);
    let (start, end) = (window.start, window.end);
    if layer3.rules == Rules::V2 {
        super::warn_if_empty_window(logger, layer3.lookback_hours, layer3.cooling_hours);
    }

    // Each query is timed in the log (`--verbose` in the CLI), as `generate`'s are.
    let liveness = logger.timed("explain", "the user", guard.guard(queries::read_user_liveness(tx, user_id))).await?;
    let actions =
        logger.timed("explain", "the user's actions", guard.guard(queries::read_user_actions(tx, user_id))).await?;
    let mut variant_ids: Vec<Uuid> = actions.iter().map(|a| a.variant_id).collect();
    variant_ids.sort_unstable();
    variant_ids.dedup();
    let variants = logger.timed("explain", "variants", guard.guard(queries::read_variants(tx, &variant_ids))).await?;

    let describe = |a: &Action| describe_action(a, &window, &variants);
    let listed: Vec<ExplainedAction> = actions.iter().take(MAX_LISTED_ACTIONS).map(describe).collect();
    let in_window: Vec<Action> =
        actions.iter().copied().filter(|a| a.created_at >= start && a.created_at < end).collect();
    let base = |verdict: Verdict| Explanation {
        user_id,
        window: window.to_json(),
        as_of: iso(as_of),
        actions: listed.clone(),
        winner: None,
        demand: None,
        verdict,
        row: None,
    };

    let explanation = match liveness {
        None => base(Verdict::NotFound { reason: format!("no user has the id {user_id}") }),
        Some(false) => base(Verdict::Deleted {
            reason: "the user is deleted (users.deleted_at <> 0): deleted users are never in an audience".into(),
        }),
        Some(true) if actions.is_empty() => base(Verdict::NoActivity {
            reason: "the user has no trade offer, open-for-trade closet item or live wishlist item at any time".into(),
        }),
        Some(true) if in_window.is_empty() => {
            let nearest =
                actions.iter().map(describe).min_by(|a, b| a.hours_outside.partial_cmp(&b.hours_outside).unwrap());
            let detail = nearest
                .map(|n| {
                    let side = if n.position == Position::BeforeWindow {
                        "before the window starts"
                    } else {
                        "after the window ends"
                    };
                    format!(
                        "; the nearest action ({}) is {:.2} h {side}",
                        n.kind.as_str(),
                        n.hours_outside.unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            base(Verdict::OutsideWindow { reason: format!("no action in the window {}{detail}", window.describe()) })
        }
        Some(true) => {
            let mut picker = Picker::default();
            in_window.iter().for_each(|a| picker.add(*a));
            let (picks, _) = picker.finish();
            let pick: Pick = picks[0];
            let winner = Winner { action: describe(&pick.action), why: why_it_won(&pick.action, &in_window) };
            let demand = pick.action.kind.demand();
            let count_query = queries::read_one_variant_demand(tx, demand, pick.action.variant_id);
            let count = logger.timed("explain", super::counts_label(demand), guard.guard(count_query)).await?;
            let thresholds = layer3.thresholds();
            let threshold = thresholds.minimum(demand);
            let audience = pick.action.kind.audience();
            let check = DemandCheck { measure: demand.column(), count, threshold, passes: count >= threshold };
            let mut explanation = if check.passes {
                let profiles =
                    logger.timed("explain", "profile", guard.guard(queries::read_profiles(tx, &[user_id]))).await?;
                // The profiles of one user: theirs is at slot 0.
                let row = super::to_row(&Kept::new(&pick, count), &profiles, &variants, layer3.rules);
                let complete = super::rules::has_complete_profile_v1(&row.first_name, &row.usersize);
                let mut explanation = if layer3.rules == Rules::V1 && !complete {
                    let missing = if row.first_name.is_empty() { "first name" } else { "size (a preferred mens_size)" };
                    base(Verdict::IncompleteProfile {
                        audience_type: audience,
                        reason: format!(
                            "{} in the window and {} {count} >= {threshold}, but the user has no {missing}: rules v1 drop the row, as the production script does",
                            pick.action.kind.as_str(),
                            demand.column()
                        ),
                    })
                } else {
                    base(Verdict::InAudience {
                        audience_type: audience,
                        reason: format!(
                            "{} in the window; {} {count} >= {threshold}: in {}",
                            pick.action.kind.as_str(),
                            demand.column(),
                            audience.file_prefix()
                        ),
                    })
                };
                if matches!(explanation.verdict, Verdict::InAudience { .. }) {
                    explanation.row = Some(
                        audience.header().iter().zip(row.fields()).map(|(k, v)| (k.to_string(), v.into())).collect(),
                    );
                }
                explanation
            } else {
                base(Verdict::BelowDemand {
                    audience_type: audience,
                    count,
                    threshold,
                    reason: format!(
                        "dropped by the demand filter: {} {count} < {threshold} for the winning {} (no fallback to a lower-priority action)",
                        demand.column(),
                        pick.action.kind.as_str()
                    ),
                })
            };
            explanation.winner = Some(winner);
            explanation.demand = Some(check);
            explanation
        }
    };
    snapshot.finish().await?;
    phase.end(format!("verdict: {}", verdict_name(&explanation.verdict)));
    Ok(explanation)
}

fn verdict_name(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::InAudience { .. } => "in_audience",
        Verdict::NotFound { .. } => "not_found",
        Verdict::Deleted { .. } => "deleted",
        Verdict::NoActivity { .. } => "no_activity",
        Verdict::OutsideWindow { .. } => "outside_window",
        Verdict::BelowDemand { .. } => "below_demand",
        Verdict::IncompleteProfile { .. } => "incomplete_profile",
    }
}

fn describe_action(action: &Action, window: &Window, variants: &queries::Variants) -> ExplainedAction {
    let (start, end) = (window.start, window.end);
    let hours = |delta: chrono::TimeDelta| {
        (delta.num_microseconds().unwrap_or(i64::MAX) as f64 / 3.6e9 * 100.0).round() / 100.0
    };
    let (position, hours_outside) = if action.created_at < start {
        (Position::BeforeWindow, Some(hours(start - action.created_at)))
    } else if action.created_at >= end {
        let last = window.shown_end.unwrap_or(end);
        (Position::AfterWindow, Some(hours(action.created_at - last)))
    } else {
        (Position::InWindow, None)
    };
    ExplainedAction {
        kind: action.kind,
        record_id: action.record_id,
        variant_id: action.variant_id,
        product_name: variants.get(&action.variant_id).map(|(name, _)| name.to_string()).unwrap_or_default(),
        created_at: iso(action.created_at),
        position,
        hours_outside,
    }
}

fn why_it_won(winner: &Action, in_window: &[Action]) -> String {
    let same_kind: Vec<&Action> = in_window.iter().filter(|a| a.kind == winner.kind).collect();
    let lower: Vec<&str> = ActionKind::ALL
        .iter()
        .filter(|k| **k > winner.kind && in_window.iter().any(|a| a.kind == **k))
        .map(|k| k.as_str())
        .collect();
    let mut why = if lower.is_empty() {
        format!("{} is the user's highest-priority action type in the window", winner.kind.as_str())
    } else {
        format!("{} outranks {}", winner.kind.as_str(), lower.join(" and "))
    };
    if same_kind.len() > 1 {
        let tied = same_kind.iter().filter(|a| a.created_at == winner.created_at).count();
        why.push_str(&format!("; the most recent of {} {} actions", same_kind.len(), winner.kind.as_str()));
        if tied > 1 {
            why.push_str(&format!(", tied at that instant with {} other(s): the smallest record id wins", tied - 1));
        }
    }
    why
}
