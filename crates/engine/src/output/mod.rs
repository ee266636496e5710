//! Atomic output: every file of a run is written under a temporary name in the output
//! directory and moved into place only when all of them are complete. Nothing existing
//! is ever overwritten; a failed or cancelled run leaves no file and no temporary file, and
//! removes the directories it created (`OutputDir`).

mod csv_file;
mod file_set;
mod manifest;
mod output_dir;

pub use csv_file::{CsvSink, LineEnd, csv_writer};
pub use file_set::{CsvRows, FileName, FileSet, WrittenFile};
pub use manifest::{MANIFEST_SUFFIX, ManifestSource, file_entry, manifest_base, manifest_bytes, with_files};
pub use output_dir::{OutputDir, prepare_output_dir};
