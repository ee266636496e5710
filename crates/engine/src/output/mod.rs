//! Atomic output: every file of a run is written under a temporary name in the output
//! directory and moved into place only when all of them are complete. Nothing existing
//! is ever overwritten; a failed or cancelled run leaves no file and no temporary file.

mod csv_file;
mod file_set;

pub use csv_file::{csv_writer, CsvSink};
pub use file_set::{prepare_output_dir, CsvRows, FileName, FileSet, WrittenFile};
