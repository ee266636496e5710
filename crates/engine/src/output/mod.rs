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
pub use manifest::{
    AudienceCsv, MANIFEST_SUFFIX, ManifestSource, OutputFile, manifest_base, with_files, write_with_manifest,
};
pub use output_dir::{OutputDir, prepare_output_dir};
