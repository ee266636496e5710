//! The contract every generator follows, which no generator owns: its description, its run and
//! its optional explanation of one user, what a run gets and what it gives back. Generators
//! import this module; the registry imports the generators; nothing imports back.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::{EngineError, Result};
use crate::log::Logger;
use crate::options::GeneratorOptions;
pub use crate::output::OutputFile;

/// What `listGenerators()` returns for one generator.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorInfo {
    pub name: &'static str,
    pub layer_id: u32,
    pub description: &'static str,
    pub legacy_script_ids: &'static [&'static str],
    /// The option names the generator adds to the common ones (`options::COMMON_OPTIONS`); it
    /// validates them itself from `GeneratorOptions::own`.
    pub options: &'static [&'static str],
    /// The parameters a push-blaster automation gives the generator's script
    /// (`audienceCriteria.customScript.parameters`), and the options they stand for.
    pub parameters: &'static [ScriptParameter],
}

/// One script parameter of an automation (`lookback_hours`) and the option it sets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptParameter {
    pub name: &'static str,
    pub option: &'static str,
    pub default: f64,
}

/// A generator: its description, its pipeline and, where it has one, its explanation of one
/// user's place in its audiences (`explainUser`).
pub struct Generator {
    pub info: GeneratorInfo,
    pub run: for<'a> fn(&'a RunContext) -> BoxFuture<'a, Result<GeneratorOutput>>,
    pub explain: Option<ExplainFn>,
}

/// Explains one user (the argument as given) under the options: a JSON object for `ExplainResult`.
pub type ExplainFn = for<'a> fn(&'a str, &'a ExplainContext) -> BoxFuture<'a, Result<serde_json::Value>>;

/// Everything an explanation gets.
pub struct ExplainContext {
    pub options: GeneratorOptions,
    pub logger: Logger,
    pub cancel: CancellationToken,
}

/// Everything a generator's run gets.
pub struct RunContext {
    pub options: GeneratorOptions,
    pub logger: Logger,
    pub cancel: CancellationToken,
    /// Wall-clock start of the run: the `<ts>` of its file names.
    pub started_at: DateTime<Utc>,
}

impl RunContext {
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancel.is_cancelled() { Err(EngineError::cancelled()) } else { Ok(()) }
    }
}

/// What a successful run produced.
#[derive(Debug, Clone)]
pub struct GeneratorOutput {
    pub files: Vec<OutputFile>,
    /// The run manifest, written last next to the files.
    pub manifest_path: Option<PathBuf>,
    /// Production rows over all audiences.
    pub audience_size: usize,
    pub metadata: serde_json::Value,
}

/// Parses the user id argument of `explainUser`.
pub fn parse_user_id(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        EngineError::invalid_option(format!(
            "userId must be a UUID such as 0e54067c-4c0e-4e4a-8a23-a47661578059, got {:?}",
            crate::error::echo(text, 80)
        ))
    })
}

/// An explanation as `ExplainFn` returns it: `user_id` parsed, then `explain`'s answer as JSON.
pub async fn explanation_json<T: Serialize>(
    user_id: &str,
    explain: impl AsyncFnOnce(Uuid) -> Result<T>,
) -> Result<serde_json::Value> {
    let explanation = explain(parse_user_id(user_id)?).await?;
    serde_json::to_value(explanation).map_err(|e| EngineError::internal(format!("serializing the explanation: {e}")))
}
