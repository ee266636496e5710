//! Parsing, defaults and validation of generator options. Pure: no I/O.
//!
//! Options arrive from JavaScript as a map of option name to a tagged value
//! (`{"type": "number", "value": "NaN"}`): the tag keeps what plain JSON loses
//! (NaN, Infinity, `undefined` vs `null`, a Date, a function), so every message can
//! say exactly what was passed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc};
use serde::Deserialize;

use crate::conninfo::PgEnv;
use crate::error::{EngineError, Result, echo};

pub const DEFAULT_OUTPUT_DIR: &str = ".script-outputs";
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 300_000;
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 10_000;
/// Ten years: far beyond any real window, far inside every timestamp range.
pub const MAX_HOURS: f64 = 87_600.0;
pub const MAX_COUNT_THRESHOLD: i64 = i32::MAX as i64;
const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// The options every generator takes (the JS layer handles `onLog` and `signal`); each
/// generator adds its own (`Generator::options`).
pub const COMMON_OPTIONS: &[&str] =
    &["outputDir", "dryRun", "automationId", "asOf", "databaseUrl", "statementTimeoutMs", "acquireTimeoutMs"];

/// The options the JavaScript layer takes before the rest reach the engine: named in messages
/// that list the options, never parsed here.
pub const JS_OPTIONS: &[&str] = &["onLog", "signal"];

/// The common options that only concern a run's files, which `explainUser` does not take.
pub const FILE_OPTIONS: &[&str] = &["outputDir", "dryRun", "automationId"];

/// The option names a generator with its own options `own` accepts: its own, then the common ones.
pub fn option_names(own: &'static [&'static str]) -> impl Iterator<Item = &'static str> {
    own.iter().chain(COMMON_OPTIONS).copied()
}

/// The option names `explainUser` accepts for such a generator: all but the file options.
pub fn explain_option_names(own: &'static [&'static str]) -> impl Iterator<Item = &'static str> {
    option_names(own).filter(|name| !FILE_OPTIONS.contains(name))
}

/// One option value as JavaScript had it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum RawValue {
    /// `String(number)` in JavaScript: keeps NaN and ±Infinity.
    Number(String),
    String(String),
    Boolean(bool),
    Null,
    /// `Date#toISOString()`, or `None` for an invalid Date.
    Date(Option<String>),
    Array,
    Object,
    Function,
    Bigint(String),
    Symbol,
}

impl RawValue {
    /// How the value reads in a message: `NaN`, `"abc"`, `an array`, `null`.
    pub fn describe(&self) -> String {
        match self {
            RawValue::Number(n) => n.clone(),
            RawValue::String(s) => format!("{:?}", echo(s, 80)),
            RawValue::Boolean(b) => b.to_string(),
            RawValue::Null => "null".into(),
            RawValue::Date(Some(iso)) => format!("Date {iso}"),
            RawValue::Date(None) => "an invalid Date".into(),
            RawValue::Array => "an array".into(),
            RawValue::Object => "an object".into(),
            RawValue::Function => "a function".into(),
            RawValue::Bigint(b) => format!("{b}n"),
            RawValue::Symbol => "a symbol".into(),
        }
    }
}

pub type RawOptions = BTreeMap<String, RawValue>;

/// The common options, validated with defaults applied, and the generator's own as given (each
/// generator validates its own: `generators::*::options`).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorOptions {
    pub output_dir: PathBuf,
    pub dry_run: bool,
    pub automation_id: Option<String>,
    /// `None`: the database's `now()` at the start of the run's transaction.
    pub as_of: Option<DateTime<Utc>>,
    pub database_url: String,
    /// The caller's `PG*` TLS variables, which apply where the URL does not set the parameter.
    pub pg_env: PgEnv,
    pub statement_timeout: Duration,
    pub acquire_timeout: Duration,
    /// The generator's own options, not yet validated.
    pub own: RawOptions,
}

impl GeneratorOptions {
    /// Options with every default and the given database URL.
    pub fn with_database_url(database_url: impl Into<String>) -> Self {
        GeneratorOptions {
            output_dir: PathBuf::from(DEFAULT_OUTPUT_DIR),
            dry_run: false,
            automation_id: None,
            as_of: None,
            database_url: database_url.into(),
            pg_env: PgEnv::default(),
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
            acquire_timeout: Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS),
            own: RawOptions::new(),
        }
    }

    /// The common options as recorded in results and manifests (no database URL), with the
    /// generator's own (`own`, a JSON object) beside them.
    pub fn to_public_json(&self, own: serde_json::Value) -> serde_json::Value {
        let mut json = serde_json::json!({
            "outputDir": self.output_dir.to_string_lossy(),
            "dryRun": self.dry_run,
            "automationId": self.automation_id,
            "asOf": self.as_of.map(crate::time::iso),
            "statementTimeoutMs": self.statement_timeout.as_millis() as u64,
            "acquireTimeoutMs": self.acquire_timeout.as_millis() as u64,
        });
        if let (Some(json), serde_json::Value::Object(own)) = (json.as_object_mut(), own) {
            json.extend(own);
        }
        json
    }
}

/// Validates the common options of `raw`, applies their defaults and keeps the generator's own
/// (named in `own`) for the generator to validate. Any other name is refused. The first problem
/// found is returned.
pub fn parse_options(raw: &RawOptions, own: &'static [&'static str]) -> Result<GeneratorOptions> {
    if let Some(unknown) = raw.keys().find(|k| !option_names(own).any(|name| name == k.as_str())) {
        return Err(EngineError::invalid_option(format!(
            "unknown option {unknown:?}; the options are: {}",
            option_names(own).chain(JS_OPTIONS.iter().copied()).collect::<Vec<_>>().join(", ")
        )));
    }
    let get = |name: &str| raw.get(name);

    let output_dir = match get("outputDir") {
        None => PathBuf::from(DEFAULT_OUTPUT_DIR),
        Some(RawValue::String(s)) if !s.trim().is_empty() && !s.contains('\0') => PathBuf::from(s),
        Some(other) => return Err(expected("outputDir", "a non-empty directory path string", other)),
    };
    let dry_run = match get("dryRun") {
        None => false,
        Some(RawValue::Boolean(b)) => *b,
        Some(other) => return Err(expected("dryRun", "true or false", other)),
    };
    let automation_id = match get("automationId") {
        None | Some(RawValue::Null) => None,
        Some(RawValue::String(s)) if s.chars().count() <= 200 => Some(s.clone()),
        Some(RawValue::Number(n)) if n.parse::<f64>().is_ok_and(f64::is_finite) => Some(n.clone()),
        Some(other) => {
            return Err(expected("automationId", "a string of at most 200 characters or a finite number", other));
        }
    };
    let as_of = match get("asOf") {
        None | Some(RawValue::Null) => None,
        Some(RawValue::String(s)) | Some(RawValue::Date(Some(s))) => Some(parse_as_of(s)?),
        Some(other) => {
            return Err(expected("asOf", "a Date or an ISO-8601 date-time string with Z or an offset", other));
        }
    };
    let database_url = match get("databaseUrl") {
        None | Some(RawValue::Null) => {
            return Err(EngineError::new(
                crate::error::ErrorCode::NoDatabaseUrl,
                "no database URL: pass the databaseUrl option or set the DATABASE_URL environment variable",
            ));
        }
        Some(RawValue::String(s)) => validate_database_url(s)?,
        // Never echo a value that may hold credentials: describe its type only.
        Some(other) => {
            return Err(EngineError::invalid_option(format!(
                "databaseUrl must be a postgres:// or postgresql:// URL string, got {}",
                type_only(other)
            )));
        }
    };
    let statement_timeout = millis(get("statementTimeoutMs"), "statementTimeoutMs", DEFAULT_STATEMENT_TIMEOUT_MS)?;
    let acquire_timeout = millis(get("acquireTimeoutMs"), "acquireTimeoutMs", DEFAULT_ACQUIRE_TIMEOUT_MS)?;
    let own =
        raw.iter().filter(|(name, _)| own.contains(&name.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(GeneratorOptions {
        output_dir,
        dry_run,
        automation_id,
        as_of,
        database_url,
        pg_env: PgEnv::default(),
        statement_timeout,
        acquire_timeout,
        own,
    })
}

pub fn expected(name: &str, allowed: &str, got: &RawValue) -> EngineError {
    EngineError::invalid_option(format!("{name} must be {allowed}, got {}", got.describe()))
}

fn type_only(value: &RawValue) -> &'static str {
    match value {
        RawValue::Number(_) => "a number",
        RawValue::String(_) => "a string",
        RawValue::Boolean(_) => "a boolean",
        RawValue::Null => "null",
        RawValue::Date(_) => "a Date",
        RawValue::Array => "an array",
        RawValue::Object => "an object",
        RawValue::Function => "a function",
        RawValue::Bigint(_) => "a bigint",
        RawValue::Symbol => "a symbol",
    }
}

pub fn finite_number(value: &RawValue) -> Option<f64> {
    match value {
        RawValue::Number(n) => n.parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

pub fn hours(value: Option<&RawValue>, name: &str, default: f64) -> Result<f64> {
    let Some(value) = value else { return Ok(default) };
    match finite_number(value) {
        Some(h) if (0.0..=MAX_HOURS).contains(&h) => Ok(if h == 0.0 { 0.0 } else { h }),
        _ => Err(expected(name, &format!("a finite number of hours from 0 to {MAX_HOURS} (fractions allowed)"), value)),
    }
}

pub fn count_threshold(value: Option<&RawValue>, name: &str, default: i64) -> Result<i64> {
    let Some(value) = value else { return Ok(default) };
    match finite_number(value) {
        Some(n) if n.fract() == 0.0 && (0.0..=MAX_COUNT_THRESHOLD as f64).contains(&n) => Ok(n as i64),
        _ => Err(expected(name, &format!("a whole number from 0 to {MAX_COUNT_THRESHOLD}"), value)),
    }
}

fn millis(value: Option<&RawValue>, name: &str, default: u64) -> Result<Duration> {
    let Some(value) = value else { return Ok(Duration::from_millis(default)) };
    match finite_number(value) {
        Some(n) if n.fract() == 0.0 && n >= 1.0 && n <= MAX_TIMEOUT_MS as f64 => Ok(Duration::from_millis(n as u64)),
        _ => Err(expected(name, &format!("a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}"), value)),
    }
}

/// Parses `asOf`: RFC 3339 (ISO-8601 with `Z` or an offset), years 1900 to 9999, no leap
/// second. Digits below the microsecond are dropped, as V1 drops them: PostgreSQL keeps
/// microseconds, and bounds finer than that would round one way when bound as parameters and
/// another in `explainUser`'s own comparisons.
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
        EngineError::invalid_option(format!(
            "asOf must be an ISO-8601 date-time with Z or an offset, such as 2026-11-28T06:00:00Z, got {:?}",
            echo(text, 80)
        ))
    })?;
    let utc = parsed.with_timezone(&Utc);
    if !(1900..=9999).contains(&utc.year()) {
        return Err(EngineError::invalid_option(format!(
            "asOf must be between the years 1900 and 9999, got {:?}",
            echo(text, 80)
        )));
    }
    // chrono reads `:60` on any date as a leap second; PostgreSQL and V1 have none.
    if utc.nanosecond() >= 1_000_000_000 {
        return Err(EngineError::invalid_option(format!(
            "asOf must not be a leap second (seconds 60), got {:?}",
            echo(text, 80)
        )));
    }
    Ok(utc.trunc_subsecs(6))
}

fn validate_database_url(url: &str) -> Result<String> {
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(EngineError::new(
            crate::error::ErrorCode::NoDatabaseUrl,
            "databaseUrl is empty: pass a postgres:// URL or set the DATABASE_URL environment variable",
        ));
    }
    let scheme_ok = trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://");
    if !scheme_ok || url::Url::parse(trimmed).is_err() {
        return Err(EngineError::invalid_option(
            "databaseUrl is not a valid PostgreSQL URL: expected postgres://user:password@host:port/database (the value is not shown because it may hold credentials)",
        ));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generator's own options, for the tests: one number.
    const OWN: &[&str] = &["windowHours"];

    fn num(v: &str) -> RawValue {
        RawValue::Number(v.into())
    }
    fn s(v: &str) -> RawValue {
        RawValue::String(v.into())
    }
    fn with(pairs: &[(&str, RawValue)]) -> RawOptions {
        let mut raw: RawOptions = [("databaseUrl".to_string(), s("postgres://u:p@localhost/db"))].into();
        for (k, v) in pairs {
            raw.insert(k.to_string(), v.clone());
        }
        raw
    }
    fn err(pairs: &[(&str, RawValue)]) -> String {
        parse_options(&with(pairs), OWN).unwrap_err().message
    }

    #[test]
    fn defaults() {
        let o = parse_options(&with(&[]), OWN).unwrap();
        assert_eq!(o, GeneratorOptions::with_database_url("postgres://u:p@localhost/db"));
        assert_eq!(o.output_dir, PathBuf::from(".script-outputs"));
    }

    #[test]
    fn the_generators_own_options_are_kept_for_it() {
        let o = parse_options(&with(&[("windowHours", num("NaN")), ("automationId", num("42"))]), OWN).unwrap();
        assert_eq!(o.own, [("windowHours".to_string(), num("NaN"))].into());
        assert_eq!(o.automation_id.as_deref(), Some("42"));
    }

    #[test]
    fn hours_errors_name_option_value_and_range() {
        for bad in ["NaN", "Infinity", "-Infinity", "-1", "87601", "1e300"] {
            let m = hours(Some(&num(bad)), "lookbackHours", 48.0).unwrap_err().message;
            assert!(m.starts_with("lookbackHours must be a finite number of hours from 0 to 87600"), "{m}");
            assert!(m.ends_with(&format!("got {bad}")), "{m}");
        }
        assert_eq!(
            hours(Some(&s("12")), "coolingHours", 12.0).unwrap_err().message,
            "coolingHours must be a finite number of hours from 0 to 87600 (fractions allowed), got \"12\""
        );
        assert_eq!(hours(None, "coolingHours", 12.0).unwrap(), 12.0);
        assert_eq!(hours(Some(&num("1.5")), "lookbackHours", 48.0).unwrap(), 1.5);
    }

    #[test]
    fn thresholds_must_be_whole_and_non_negative() {
        let m = |v: &str| count_threshold(Some(&num(v)), "minInventoryCount", 3).unwrap_err().message;
        assert!(m("2.5").starts_with("minInventoryCount must be a whole number from 0"));
        assert!(m("-1").starts_with("minInventoryCount must be a whole number"));
        assert_eq!(count_threshold(Some(&num("0")), "minInventoryCount", 3).unwrap(), 0);
    }

    #[test]
    fn as_of_parsing() {
        let o = parse_options(&with(&[("asOf", s("2026-11-28T06:00:00+02:00"))]), OWN).unwrap();
        assert_eq!(crate::time::iso(o.as_of.unwrap()), "2026-11-28T04:00:00.000Z");
        let o =
            parse_options(&with(&[("asOf", RawValue::Date(Some("2026-11-28T04:00:00.000Z".into())))]), OWN).unwrap();
        assert!(o.as_of.is_some());
        assert!(err(&[("asOf", s("yesterday"))]).starts_with("asOf must be an ISO-8601 date-time"));
        assert!(err(&[("asOf", s("2026-11-28T06:00:00"))]).contains("with Z or an offset"));
        assert!(
            err(&[("asOf", s("0100-01-01T00:00:00Z"))]).starts_with("asOf must be between the years 1900 and 9999")
        );
        assert!(err(&[("asOf", RawValue::Date(None))]).ends_with("got an invalid Date"));
        assert!(err(&[("asOf", num("5"))]).ends_with("got 5"));
        assert!(err(&[("asOf", s("2026-11-28T23:59:60Z"))]).starts_with("asOf must not be a leap second"));
    }

    #[test]
    fn as_of_keeps_whole_microseconds() {
        let at = |text: &str| parse_as_of(text).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        assert_eq!(at("2026-11-28T12:00:00.0000005Z"), "2026-11-28T12:00:00.000000Z");
        assert_eq!(at("2026-11-28T12:00:00.1234567891Z"), "2026-11-28T12:00:00.123456Z");
        // Before 2000-01-01 (PostgreSQL's epoch) too: dropped, never rounded up.
        assert_eq!(at("1999-06-02T12:00:00.0000009Z"), "1999-06-02T12:00:00.000000Z");
    }

    #[test]
    fn database_url_problems_never_echo_the_value() {
        let mut raw = with(&[]);
        raw.remove("databaseUrl");
        assert_eq!(parse_options(&raw, OWN).unwrap_err().code, crate::error::ErrorCode::NoDatabaseUrl);
        let m = err(&[("databaseUrl", s("mysql://user:hunter2@host/db"))]);
        assert!(!m.contains("hunter2"), "{m}");
        assert!(m.starts_with("databaseUrl is not a valid PostgreSQL URL"));
        assert_eq!(
            parse_options(&with(&[("databaseUrl", s("  "))]), OWN).unwrap_err().code,
            crate::error::ErrorCode::NoDatabaseUrl
        );
        assert!(!err(&[("databaseUrl", num("1"))]).contains('1'));
    }

    #[test]
    fn other_types() {
        assert_eq!(err(&[("dryRun", s("yes"))]), "dryRun must be true or false, got \"yes\"");
        assert_eq!(err(&[("outputDir", s(""))]), "outputDir must be a non-empty directory path string, got \"\"");
        assert!(err(&[("outputDir", RawValue::Object)]).ends_with("got an object"));
        assert!(
            err(&[("statementTimeoutMs", num("0"))])
                .starts_with("statementTimeoutMs must be a whole number of milliseconds")
        );
    }

    #[test]
    fn unknown_option_is_refused_with_the_list() {
        let m = err(&[("lookback", num("5"))]);
        assert_eq!(
            m,
            "unknown option \"lookback\"; the options are: windowHours, outputDir, dryRun, automationId, asOf, databaseUrl, statementTimeoutMs, acquireTimeoutMs, onLog, signal"
        );
    }

    #[test]
    fn explain_takes_every_option_but_the_file_ones() {
        let names: Vec<&str> = explain_option_names(OWN).collect();
        assert_eq!(names, ["windowHours", "asOf", "databaseUrl", "statementTimeoutMs", "acquireTimeoutMs"]);
    }
}
