//! audience-engine: push-notification audiences from a marketplace's PostgreSQL,
//! written as CSV files. The Node addon (the crate at the repository root) is a thin
//! layer over `run::generate`, `registry::list` and `db::shutdown`.

pub mod conninfo;
pub mod db;
pub mod error;
pub mod generator;
pub mod generators;
pub mod log;
pub mod options;
pub mod output;
pub mod registry;
pub mod run;
pub mod time;

pub use error::{EngineError, ErrorCode};
pub use run::{GeneratorResult, generate};
