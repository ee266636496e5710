//! Runs a generator from raw options to a result object. A run never returns an
//! error and never panics to its caller: every failure becomes `success: false`.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use chrono::Utc;
use futures_util::FutureExt;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::conninfo::PgEnv;
use crate::error::{EngineError, ErrorCode, Result};
use crate::generator::{ExplainContext, GeneratorOutput, OutputFile, RunContext};
use crate::log::{Level, LogSink, Logger};
use crate::options::{GeneratorOptions, JS_OPTIONS, RawOptions, explain_option_names, parse_options};
use crate::registry;

/// The result of a run, as `generate*()` resolves it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorResult {
    pub success: bool,
    pub csv_files: Vec<OutputFile>,
    /// `<ts>.manifest.json` next to the files: what was written and why, with SHA-256 sums.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_path: Option<std::path::PathBuf>,
    pub audience_size: usize,
    pub execution_time_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl GeneratorResult {
    /// The result of a run that failed with `error`.
    pub fn failure(error: EngineError, execution_time_ms: f64) -> Self {
        GeneratorResult {
            success: false,
            csv_files: Vec::new(),
            manifest_path: None,
            audience_size: 0,
            execution_time_ms,
            error: Some(error.message),
            error_code: Some(error.code.as_str()),
            metadata: None,
        }
    }
}

/// Runs the generator `name_or_legacy_id` with `raw` options.
pub async fn generate(
    name_or_legacy_id: &str,
    raw: &RawOptions,
    env: &PgEnv,
    sink: Option<LogSink>,
    cancel: CancellationToken,
) -> GeneratorResult {
    let started = Instant::now();
    let generator = registry::find(name_or_legacy_id);
    let log_name = generator.as_ref().map(|g| g.info.name).unwrap_or("audience-engine");
    let logger = Logger::new(log_name, sink);
    let outcome = async {
        let generator = generator?;
        let options = GeneratorOptions { pg_env: env.clone(), ..parse_options(raw, generator.info.options)? };
        let ctx = RunContext { options, logger: logger.clone(), cancel, started_at: Utc::now() };
        let run = (generator.run)(&ctx);
        AssertUnwindSafe(run).catch_unwind().await.unwrap_or_else(|panic| {
            Err(EngineError::internal(format!("the generator panicked: {}", panic_message(&panic))))
        })
    }
    .await;
    let execution_time_ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    finish(outcome, &logger, execution_time_ms)
}

fn finish(outcome: Result<GeneratorOutput>, logger: &Logger, execution_time_ms: f64) -> GeneratorResult {
    match outcome {
        Ok(output) => {
            logger.info(format!(
                "finished in {execution_time_ms:.1} ms: {} rows in {} files",
                output.audience_size,
                output.files.len()
            ));
            GeneratorResult {
                success: true,
                csv_files: output.files,
                manifest_path: output.manifest_path,
                audience_size: output.audience_size,
                execution_time_ms,
                error: None,
                error_code: None,
                metadata: Some(output.metadata),
            }
        }
        Err(error) => {
            logger.log(Level::Error, None, format!("failed after {execution_time_ms:.1} ms: {error}"));
            GeneratorResult::failure(error, execution_time_ms)
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The result of `explainUser`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainResult {
    pub success: bool,
    pub user_id: String,
    /// The generator's explanation (for Layer 3, `generators::layer3::explain::Explanation`).
    #[serde(flatten)]
    pub explanation: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
}

impl ExplainResult {
    /// The result of an explanation that failed with `error`.
    pub fn failure(user_id: &str, error: EngineError) -> Self {
        ExplainResult {
            success: false,
            user_id: crate::error::echo(user_id, 80),
            explanation: None,
            error: Some(error.message),
            error_code: Some(error.code.as_str()),
        }
    }
}

/// Explains why `user_id` is or is not in the audiences of the generator `name_or_legacy_id`
/// for the options' window.
pub async fn explain_user(
    name_or_legacy_id: &str,
    user_id: &str,
    raw: &RawOptions,
    env: &PgEnv,
    sink: Option<LogSink>,
    cancel: CancellationToken,
) -> ExplainResult {
    let generator = registry::find(name_or_legacy_id);
    let logger = Logger::new(generator.as_ref().map(|g| g.info.name).unwrap_or("audience-engine"), sink);
    let outcome = async {
        let generator = generator?;
        let explain = generator.explain.ok_or_else(|| {
            EngineError::invalid_option(format!("the generator {} cannot explain a user", generator.info.name))
        })?;
        let names = || explain_option_names(generator.info.options);
        if let Some(key) = raw.keys().find(|k| !names().any(|name| name == k.as_str())) {
            return Err(EngineError::invalid_option(format!(
                "unknown option {key:?} for explainUser; its options are: {}",
                names().chain(JS_OPTIONS.iter().copied()).collect::<Vec<_>>().join(", ")
            )));
        }
        let options = GeneratorOptions { pg_env: env.clone(), ..parse_options(raw, generator.info.options)? };
        let ctx = ExplainContext { options, logger: logger.clone(), cancel };
        AssertUnwindSafe(explain(user_id, &ctx))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(EngineError::internal(format!("explain panicked: {}", panic_message(&panic)))))
    }
    .await;
    match outcome {
        Ok(explanation) => ExplainResult {
            success: true,
            user_id: explanation.get("userId").and_then(|id| id.as_str()).unwrap_or(user_id).to_string(),
            explanation: Some(explanation),
            error: None,
            error_code: None,
        },
        Err(error) => {
            // The engine's cancellation message speaks of files, which explain never writes.
            let error = match error.code {
                ErrorCode::Cancelled => EngineError::new(ErrorCode::Cancelled, "the explanation was cancelled"),
                _ => error,
            };
            logger.log(Level::Error, None, format!("explain failed: {error}"));
            ExplainResult::failure(user_id, error)
        }
    }
}
