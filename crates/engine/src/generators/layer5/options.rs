//! Layer 5's own options: how young and how old the new accounts are (docs/layer5-contract.md,
//! Inputs). The common options (output, as-of, connection) are `crate::options`'.

use crate::error::{EngineError, Result};
use crate::options::{MAX_HOURS, RawOptions, expected, finite_number, hours};

pub const DEFAULT_MIN_HOURS: f64 = 12.0;
pub const DEFAULT_MAX_DAYS: f64 = 14.0;
/// Ten years, as Layer 3's longest window.
pub const MAX_DAYS: f64 = MAX_HOURS / 24.0;

/// The option names Layer 5 adds to the common ones.
pub const OPTIONS: &[&str] = &["minHours", "maxDays"];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer5Options {
    pub min_hours: f64,
    pub max_days: f64,
}

impl Default for Layer5Options {
    fn default() -> Self {
        Layer5Options { min_hours: DEFAULT_MIN_HOURS, max_days: DEFAULT_MAX_DAYS }
    }
}

impl Layer5Options {
    /// Validates Layer 5's options (`GeneratorOptions::own`). The first problem found is returned.
    pub fn parse(own: &RawOptions) -> Result<Layer5Options> {
        let min_hours = hours(own.get("minHours"), "minHours", DEFAULT_MIN_HOURS)?;
        let max_days = match own.get("maxDays") {
            None => DEFAULT_MAX_DAYS,
            Some(value) => match finite_number(value) {
                Some(days) if days > 0.0 && days <= MAX_DAYS => days,
                _ => {
                    return Err(expected(
                        "maxDays",
                        &format!("a finite number of days above 0 and at most {MAX_DAYS} (fractions allowed)"),
                        value,
                    ));
                }
            },
        };
        if max_days * 24.0 < min_hours {
            return Err(EngineError::invalid_option(format!(
                "maxDays must be at least minHours / 24, got maxDays {max_days} and minHours {min_hours} (the base set is the accounts created between asOf - maxDays days and asOf - minHours hours)"
            )));
        }
        Ok(Layer5Options { min_hours, max_days })
    }

    /// As recorded in results and manifests, beside the common options.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "minHours": self.min_hours, "maxDays": self.max_days })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawValue;

    fn parse(pairs: &[(&str, &str)]) -> Result<Layer5Options> {
        Layer5Options::parse(&pairs.iter().map(|(k, v)| (k.to_string(), RawValue::Number(v.to_string()))).collect())
    }

    #[test]
    fn defaults_are_the_scripts() {
        assert_eq!(parse(&[]).unwrap(), Layer5Options { min_hours: 12.0, max_days: 14.0 });
        assert_eq!(
            parse(&[("minHours", "0"), ("maxDays", "0.5")]).unwrap(),
            Layer5Options { min_hours: 0.0, max_days: 0.5 }
        );
    }

    #[test]
    fn errors_name_the_option_the_value_and_the_range() {
        assert_eq!(
            parse(&[("maxDays", "0")]).unwrap_err().message,
            "maxDays must be a finite number of days above 0 and at most 3650 (fractions allowed), got 0"
        );
        assert!(
            parse(&[("minHours", "-1")]).unwrap_err().message.starts_with("minHours must be a finite number of hours")
        );
        assert!(
            parse(&[("minHours", "48"), ("maxDays", "1")])
                .unwrap_err()
                .message
                .starts_with("maxDays must be at least minHours / 24, got maxDays 1 and minHours 48")
        );
        assert!(parse(&[("minHours", "24"), ("maxDays", "1")]).is_ok(), "a one-instant base set is allowed");
    }
}
