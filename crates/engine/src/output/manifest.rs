//! The run manifest, `<ts>.manifest.json`, written last next to a run's files: what ran, with
//! which options, on which window, the count at every stage, and each file with its SHA-256.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::{CsvRows, FileName, FileSet, WrittenFile};
use crate::error::Result;

pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// The generator that wrote a manifest: its name and the version of its rules.
pub struct ManifestSource<'a> {
    pub generator: &'a str,
    pub version: &'a str,
    pub automation_id: Option<&'a str>,
    pub started_at: DateTime<Utc>,
}

/// What the manifest says besides its files. `metadata` is the run's (`asOf`, `window`,
/// `options`, `counts`).
pub fn manifest_base(source: &ManifestSource<'_>, metadata: &serde_json::Value) -> serde_json::Value {
    json!({
        "manifestVersion": 1,
        "generator": { "name": source.generator, "version": source.version },
        "engine": { "name": "audience-engine", "version": env!("CARGO_PKG_VERSION") },
        "automationId": source.automation_id,
        "runStartedAt": crate::time::iso(source.started_at),
        "asOf": metadata["asOf"],
        "window": metadata["window"],
        "options": metadata["options"],
        "counts": metadata["counts"],
    })
}

/// The manifest with its files and stamp (`None` in a dry run).
pub fn with_files(
    mut manifest: serde_json::Value,
    stamp: Option<&str>,
    files: Vec<serde_json::Value>,
) -> serde_json::Value {
    manifest["stamp"] = json!(stamp);
    manifest["files"] = json!(files);
    manifest
}

/// One written file's entry: its name under the set's final stamp, what it holds, its size and digest.
fn file_entry(
    file: &WrittenFile,
    stamp: &str,
    audience_type: &str,
    is_test_file: bool,
    rows: usize,
) -> serde_json::Value {
    json!({
        "name": file.name.with_stamp(stamp),
        "audienceType": audience_type,
        "isTestFile": is_test_file,
        "rowCount": rows,
        "bytes": file.bytes,
        "sha256": file.sha256,
    })
}

/// The manifest file's bytes: pretty JSON and a final newline.
fn manifest_bytes(manifest: &serde_json::Value) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    text.push(b'\n');
    text
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

/// One CSV of a run: its name, its rows, its audience and whether it is a test file.
pub struct AudienceCsv<'a> {
    pub name: FileName,
    pub rows: CsvRows<'a>,
    pub audience_type: &'static str,
    pub is_test_file: bool,
}

/// Writes a run's CSVs into `set` (all at once), then moves them into place with the manifest
/// (`manifest` and the files' entries) written last, under one stamp. Returns the files, in the
/// order given, and the manifest's path.
pub fn write_with_manifest(
    mut set: FileSet,
    csvs: Vec<AudienceCsv<'_>>,
    manifest: &serde_json::Value,
) -> Result<(Vec<OutputFile>, Option<PathBuf>)> {
    let dir = set.dir().to_path_buf();
    let mut kinds = Vec::with_capacity(csvs.len());
    let mut files = Vec::with_capacity(csvs.len());
    for csv in csvs {
        kinds.push((csv.audience_type, csv.is_test_file));
        files.push((csv.name, csv.rows));
    }
    let rows = set.add_csvs(files)?;
    let planned: Vec<(&str, bool, usize)> =
        kinds.into_iter().zip(rows).map(|((kind, test), rows)| (kind, test, rows)).collect();
    let make_manifest = |stamp: &str, written: &[WrittenFile]| {
        let files = written
            .iter()
            .zip(&planned)
            .map(|(file, (kind, test, rows))| file_entry(file, stamp, kind, *test, *rows))
            .collect();
        manifest_bytes(&with_files(manifest.clone(), Some(stamp), files))
    };
    let manifest_name = FileName::new("", MANIFEST_SUFFIX);
    let (written, final_stamp) = set.commit_with_last(Some((manifest_name.clone(), &make_manifest)))?;
    let files = written
        .into_iter()
        .zip(planned)
        .map(|(file, (kind, is_test_file, row_count))| OutputFile {
            path: file.path,
            row_count,
            is_test_file,
            audience_type: kind.to_string(),
        })
        .collect();
    Ok((files, Some(dir.join(manifest_name.with_stamp(&final_stamp)))))
}
