//! `explainUser` for Layer 5: which level one user lands in and why, in one snapshot: whether the
//! account is in the base set (and if not, which rule keeps it out), each check's answer, the
//! level, and for levels 3 to 5 the target shoe and the step of the chain that gave it.

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::levels::{Completion, Level};
use super::options::Layer5Options;
use super::queries::{self, Check, TargetShoe, TargetSource};
use crate::db::{Planner, RunSnapshot};
use crate::error::Result;
use crate::log::Logger;
use crate::options::GeneratorOptions;
use crate::time::iso;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Verdict {
    InLevel { level: u8, audience_type: &'static str, reason: String },
    NotFound { reason: String },
    Deleted { reason: String },
    NoFirstName { reason: String },
    OutsideWindow { reason: String },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    pub closet_item: bool,
    pub bio: bool,
    pub offer: bool,
    pub wishlist_item: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub product_name: String,
    pub variant_id: Uuid,
    pub source: TargetSource,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub user_id: Uuid,
    pub as_of: String,
    pub window: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_shoe: Option<Target>,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<serde_json::Map<String, serde_json::Value>>,
}

pub async fn explain(
    user_id: Uuid,
    options: &GeneratorOptions,
    layer5: &Layer5Options,
    logger: &Logger,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Explanation> {
    let phase = logger.phase("explain", "reading the user's account and onboarding steps");
    let mut snapshot = RunSnapshot::for_run(options, 1, Planner::Lookup, cancel).await?;
    let as_of = options.as_of.unwrap_or(snapshot.now);
    let (from, to) = super::base_window(as_of, layer5);
    let connection = &mut snapshot.connections[0];
    let guard = connection.canceller.clone();
    let tx = &mut connection.tx;
    let base = |verdict: Verdict| Explanation {
        user_id,
        as_of: iso(as_of),
        window: json!({ "start": iso(from), "end": iso(to), "endIncluded": true }),
        created_at: None,
        checks: None,
        target_shoe: None,
        verdict,
        row: None,
    };

    let account = logger.timed("explain", "the account", guard.guard(queries::read_account(tx, user_id))).await?;
    let explanation = match account {
        None => base(Verdict::NotFound { reason: format!("no user has the id {user_id}") }),
        Some(account) => {
            let created = |mut e: Explanation| {
                e.created_at = account.created_at.map(iso);
                e
            };
            if !account.live {
                created(base(Verdict::Deleted { reason: "the user is deleted (users.deleted_at <> 0)".into() }))
            } else if account.first_name.is_none() {
                created(base(Verdict::NoFirstName {
                    reason: "the user has no first name (users.first_name IS NULL): the base set leaves them out"
                        .into(),
                }))
            } else if let Some(side) = outside(account.created_at, from, to, layer5) {
                created(base(Verdict::OutsideWindow {
                    reason: format!("the account was created {side}: the base set is [{}, {}]", iso(from), iso(to)),
                }))
            } else {
                let ids = [user_id];
                let mut completion = Completion::default();
                for check in Check::ALL {
                    let found = logger
                        .timed("explain", check.label(), guard.guard(queries::read_check(tx, check, &ids)))
                        .await?;
                    let set = match check {
                        Check::ClosetItem => &mut completion.has_closet_item,
                        Check::Offer => &mut completion.has_offer,
                        Check::WishlistItem => &mut completion.has_wishlist_item,
                    };
                    *set = found;
                }
                if account.has_bio {
                    completion.has_bio.insert(user_id);
                }
                let checks = Checks {
                    closet_item: completion.has_closet_item.contains(&user_id),
                    bio: completion.has_bio.contains(&user_id),
                    offer: completion.has_offer.contains(&user_id),
                    wishlist_item: completion.has_wishlist_item.contains(&user_id),
                };
                let level = completion.level_of(&user_id);
                let mut target = None;
                if level.has_target_shoe() {
                    for source in TargetSource::ALL {
                        let shoes = logger
                            .timed("explain", source.label(), guard.guard(queries::read_target_shoes(tx, source, &ids)))
                            .await?;
                        if let Some(TargetShoe { product_name, variant_id }) = shoes.get(&user_id).cloned() {
                            target = Some(Target { product_name, variant_id, source });
                            break;
                        }
                    }
                }
                let passed: Vec<&str> = Level::ALL.iter().filter(|l| **l < level).map(|l| l.as_str()).collect();
                let reason = if level == Level::NewStars {
                    format!("level 5 ({}): the user {}", level.as_str(), level.rule())
                } else {
                    let before = if passed.is_empty() {
                        String::new()
                    } else {
                        format!("passed the checks of {}; ", passed.join(", "))
                    };
                    format!("{before}level {} ({}): {}", level.number(), level.as_str(), level.rule())
                };
                let mut explanation =
                    created(base(Verdict::InLevel { level: level.number(), audience_type: level.as_str(), reason }));
                let mut row = vec![
                    ("user_id", user_id.to_string()),
                    ("username", account.username.clone()),
                    ("firstName", account.first_name.clone().unwrap_or_default()),
                    ("new_user_level", level.number().to_string()),
                ];
                if level.has_target_shoe() {
                    row.push(("top_target_shoe", target.as_ref().map(|t| t.product_name.clone()).unwrap_or_default()));
                    row.push((
                        "top_target_shoe_variantid",
                        target.as_ref().map(|t| t.variant_id.to_string()).unwrap_or_default(),
                    ));
                }
                explanation.row = Some(row.into_iter().map(|(k, v)| (k.to_string(), v.into())).collect());
                explanation.checks = Some(checks);
                explanation.target_shoe = target;
                explanation
            }
        }
    };
    snapshot.finish().await?;
    phase.end(format!("verdict: {}", verdict_name(&explanation.verdict)));
    Ok(explanation)
}

/// Where an account's creation falls outside the base set's window, if it does.
fn outside(
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    layer5: &Layer5Options,
) -> Option<String> {
    match created_at {
        None => Some("at an infinite time (created_at infinity), in no window".to_string()),
        Some(at) if at < from => {
            Some(format!("{:.2} h before the window starts (older than maxDays {})", hours(from - at), layer5.max_days))
        }
        Some(at) if at > to => {
            Some(format!("{:.2} h after the window ends (younger than minHours {})", hours(at - to), layer5.min_hours))
        }
        Some(_) => None,
    }
}

fn hours(delta: chrono::TimeDelta) -> f64 {
    delta.num_microseconds().unwrap_or(i64::MAX) as f64 / 3.6e9
}

fn verdict_name(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::InLevel { .. } => "in_level",
        Verdict::NotFound { .. } => "not_found",
        Verdict::Deleted { .. } => "deleted",
        Verdict::NoFirstName { .. } => "no_first_name",
        Verdict::OutsideWindow { .. } => "outside_window",
    }
}
