//! The generators by name and legacy script id. Adding a layer: add its module under
//! `generators/` with a `GENERATOR` descriptor and list it in `GENERATORS`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::{EngineError, ErrorCode, Result, echo};
use crate::generators;
use crate::log::Logger;
use crate::options::GeneratorOptions;

pub static GENERATORS: &[&Generator] = &[&generators::layer3::GENERATOR];

/// What `listGenerators()` returns for one generator.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorInfo {
    pub name: &'static str,
    pub layer_id: u32,
    pub description: &'static str,
    pub legacy_script_ids: &'static [&'static str],
}

/// A generator: its description and its pipeline.
pub struct Generator {
    pub info: GeneratorInfo,
    pub run: for<'a> fn(&'a RunContext) -> BoxFuture<'a, Result<GeneratorOutput>>,
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

/// One file a run wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputFile {
    pub path: PathBuf,
    pub row_count: usize,
    pub is_test_file: bool,
    pub audience_type: String,
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

/// Finds a generator by name (`layer3-behavior`) or legacy script id (`generate_layer_3_push_csvs`).
pub fn find(name_or_legacy_id: &str) -> Result<&'static Generator> {
    let key = name_or_legacy_id.trim();
    GENERATORS.iter().copied().find(|g| g.info.name == key || g.info.legacy_script_ids.contains(&key)).ok_or_else(
        || {
            let known: Vec<String> = GENERATORS
                .iter()
                .map(|g| format!("{} (legacy id {})", g.info.name, g.info.legacy_script_ids.join(", ")))
                .collect();
            EngineError::new(
                ErrorCode::UnknownGenerator,
                format!("unknown generator {:?}; the known generators are: {}", echo(key, 100), known.join("; ")),
            )
        },
    )
}

pub fn list() -> Vec<GeneratorInfo> {
    GENERATORS.iter().map(|g| g.info.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_name_and_legacy_id() {
        assert_eq!(find("layer3-behavior").unwrap().info.layer_id, 3);
        assert_eq!(find("generate_layer_3_push_csvs").unwrap().info.name, "layer3-behavior");
    }

    #[test]
    fn unknown_lists_the_known_ones() {
        let e = find("layer9").err().unwrap();
        assert_eq!(e.code, ErrorCode::UnknownGenerator);
        assert_eq!(
            e.message,
            "unknown generator \"layer9\"; the known generators are: layer3-behavior (legacy id generate_layer_3_push_csvs)"
        );
    }

    #[test]
    fn names_and_legacy_ids_are_unique() {
        let mut keys: Vec<&str> = GENERATORS
            .iter()
            .flat_map(|g| std::iter::once(g.info.name).chain(g.info.legacy_script_ids.iter().copied()))
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }
}
