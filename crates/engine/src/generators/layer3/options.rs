//! Layer 3's own options: the window, the demand thresholds and the row rules. The common
//! options (output, as-of, connection) are `crate::options`'.

use crate::error::{EngineError, Result};
use crate::options::{RawOptions, RawValue, count_threshold, expected, hours};

use super::rules::Thresholds;

pub const DEFAULT_LOOKBACK_HOURS: f64 = 48.0;
pub const DEFAULT_COOLING_HOURS: f64 = 12.0;
pub const DEFAULT_MIN_INVENTORY_COUNT: i64 = 3;
pub const DEFAULT_MIN_WISHLIST_COUNT: i64 = 2;

/// The option names Layer 3 adds to the common ones.
pub const OPTIONS: &[&str] = &["lookbackHours", "coolingHours", "minInventoryCount", "minWishlistCount", "rules"];

/// Which row rules a run follows (docs/layer3-contract.md, section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rules {
    /// The contract: the cooling period excluded, complete rows for every user, `\n`.
    #[default]
    V2,
    /// What the production script writes, byte for byte.
    V1,
}

impl Rules {
    pub fn as_str(self) -> &'static str {
        match self {
            Rules::V2 => "v2",
            Rules::V1 => "v1",
        }
    }
}

/// Layer 3's options, validated, with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer3Options {
    pub lookback_hours: f64,
    pub cooling_hours: f64,
    pub min_inventory_count: i64,
    pub min_wishlist_count: i64,
    pub rules: Rules,
}

impl Default for Layer3Options {
    fn default() -> Self {
        Layer3Options {
            lookback_hours: DEFAULT_LOOKBACK_HOURS,
            cooling_hours: DEFAULT_COOLING_HOURS,
            min_inventory_count: DEFAULT_MIN_INVENTORY_COUNT,
            min_wishlist_count: DEFAULT_MIN_WISHLIST_COUNT,
            rules: Rules::V2,
        }
    }
}

impl Layer3Options {
    /// Validates Layer 3's options (`GeneratorOptions::own`). The first problem found is returned.
    pub fn parse(own: &RawOptions) -> Result<Layer3Options> {
        let get = |name: &str| own.get(name);
        let lookback_hours = hours(get("lookbackHours"), "lookbackHours", DEFAULT_LOOKBACK_HOURS)?;
        let cooling_hours = hours(get("coolingHours"), "coolingHours", DEFAULT_COOLING_HOURS)?;
        if cooling_hours >= lookback_hours {
            return Err(EngineError::invalid_option(format!(
                "coolingHours must be less than lookbackHours, got coolingHours {cooling_hours} and lookbackHours {lookback_hours} (the window is [asOf - (lookbackHours - coolingHours) h, asOf - coolingHours h))"
            )));
        }
        let min_inventory_count =
            count_threshold(get("minInventoryCount"), "minInventoryCount", DEFAULT_MIN_INVENTORY_COUNT)?;
        let min_wishlist_count =
            count_threshold(get("minWishlistCount"), "minWishlistCount", DEFAULT_MIN_WISHLIST_COUNT)?;
        let rules = match get("rules") {
            None => Rules::V2,
            Some(RawValue::String(s)) if s == "v2" => Rules::V2,
            Some(RawValue::String(s)) if s == "v1" => Rules::V1,
            Some(other) => {
                return Err(expected(
                    "rules",
                    "'v2' (the contract, the default) or 'v1' (what the production script writes)",
                    other,
                ));
            }
        };
        Ok(Layer3Options { lookback_hours, cooling_hours, min_inventory_count, min_wishlist_count, rules })
    }

    pub fn thresholds(&self) -> Thresholds {
        Thresholds { min_inventory_count: self.min_inventory_count, min_wishlist_count: self.min_wishlist_count }
    }

    /// As recorded in results and manifests, beside the common options.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "lookbackHours": self.lookback_hours,
            "coolingHours": self.cooling_hours,
            "minInventoryCount": self.min_inventory_count,
            "minWishlistCount": self.min_wishlist_count,
            "rules": self.rules.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: &str) -> RawValue {
        RawValue::Number(v.into())
    }
    fn s(v: &str) -> RawValue {
        RawValue::String(v.into())
    }
    fn parse(pairs: &[(&str, RawValue)]) -> Result<Layer3Options> {
        Layer3Options::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }
    fn err(pairs: &[(&str, RawValue)]) -> String {
        parse(pairs).unwrap_err().message
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[]).unwrap(), Layer3Options::default());
        assert_eq!(Layer3Options::default().lookback_hours, 48.0);
        assert_eq!(Layer3Options::default().cooling_hours, 12.0);
    }

    #[test]
    fn accepts_fractional_hours() {
        let o = parse(&[("lookbackHours", num("1.5")), ("coolingHours", num("0"))]).unwrap();
        assert_eq!((o.lookback_hours, o.cooling_hours), (1.5, 0.0));
    }

    #[test]
    fn hours_errors_name_option_value_and_range() {
        let m = err(&[("lookbackHours", num("NaN"))]);
        assert_eq!(m, "lookbackHours must be a finite number of hours from 0 to 87600 (fractions allowed), got NaN");
        assert!(err(&[("coolingHours", RawValue::Null)]).ends_with("got null"));
        assert!(err(&[("coolingHours", RawValue::Array)]).ends_with("got an array"));
    }

    #[test]
    fn cooling_must_be_below_lookback() {
        let m = err(&[("lookbackHours", num("12")), ("coolingHours", num("12"))]);
        assert!(
            m.starts_with("coolingHours must be less than lookbackHours, got coolingHours 12 and lookbackHours 12"),
            "{m}"
        );
    }

    #[test]
    fn thresholds_must_be_whole_and_non_negative() {
        assert!(
            err(&[("minInventoryCount", num("2.5"))]).starts_with("minInventoryCount must be a whole number from 0")
        );
        assert!(err(&[("minWishlistCount", num("-1"))]).starts_with("minWishlistCount must be a whole number"));
        assert_eq!(parse(&[("minInventoryCount", num("0"))]).unwrap().min_inventory_count, 0);
    }

    #[test]
    fn rules_are_v2_by_default_and_v1_on_request() {
        assert_eq!(parse(&[]).unwrap().rules, Rules::V2);
        assert_eq!(parse(&[("rules", s("v1"))]).unwrap().rules, Rules::V1);
        assert_eq!(
            err(&[("rules", s("V1"))]),
            "rules must be 'v2' (the contract, the default) or 'v1' (what the production script writes), got \"V1\""
        );
    }
}
