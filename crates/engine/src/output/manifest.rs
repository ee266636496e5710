//! The run manifest, `<ts>.manifest.json`, written last next to a run's files: what ran, with
//! which options, on which window, the count at every stage, and each file with its SHA-256.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::WrittenFile;

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
pub fn file_entry(
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
pub fn manifest_bytes(manifest: &serde_json::Value) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    text.push(b'\n');
    text
}
