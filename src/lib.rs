//! The Node-API boundary: converts options and results and nothing else. The engine
//! lives in `crates/engine`; the typed public API is the TypeScript in `ts/`.
//!
//! Options cross as a map of tagged values (see `audience_engine::options::RawValue`)
//! so that validation, and every error message, happens in one place in Rust.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use audience_engine::conninfo::PgEnv;
use audience_engine::options::RawOptions;
use audience_engine::{EngineError, ErrorCode, log::LogSink, registry, run};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

/// A weak threadsafe function: pending log calls never keep the Node process alive.
type LogCallback = ThreadsafeFunction<serde_json::Value, (), serde_json::Value, Status, false, true>;

static RUNS: LazyLock<Mutex<HashMap<String, CancellationToken>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Runs a generator. Private: use `generate()` from the package's main module.
/// `options` maps option names to tagged values; `environment` holds the caller's `PG*`
/// variables (read from `process.env`, which this process's own environment may not mirror).
/// Resolves the result object, never rejects.
#[napi(js_name = "nativeGenerate")]
pub async fn native_generate(
    name: String,
    options: serde_json::Value,
    environment: HashMap<String, String>,
    #[napi(ts_arg_type = "((event: any) => void) | undefined | null")] on_log: Option<LogCallback>,
    run_id: Option<String>,
) -> Result<serde_json::Value> {
    let (cancel, _registered) = register(run_id)?;
    let sink = on_log.map(log_sink);
    let result = match serde_json::from_value::<RawOptions>(options) {
        Ok(raw) => run::generate(&name, &raw, &PgEnv::from_vars(environment), sink, cancel).await,
        Err(e) => run::GeneratorResult::failure(options_error(e), 0.0),
    };
    serde_json::to_value(result).map_err(|e| Error::from_reason(format!("serializing the result failed: {e}")))
}

/// Explains one user's place in a generator's audiences. Private: use `explainUser()`.
/// `runId` registers it for `nativeCancel`, as for `nativeGenerate`.
#[napi(js_name = "nativeExplainUser")]
pub async fn native_explain_user(
    name: String,
    user_id: String,
    options: serde_json::Value,
    environment: HashMap<String, String>,
    #[napi(ts_arg_type = "((event: any) => void) | undefined | null")] on_log: Option<LogCallback>,
    run_id: Option<String>,
) -> Result<serde_json::Value> {
    let (cancel, _registered) = register(run_id)?;
    let sink = on_log.map(log_sink);
    let result = match serde_json::from_value::<RawOptions>(options) {
        Ok(raw) => serde_json::to_value(
            run::explain_user(&name, &user_id, &raw, &PgEnv::from_vars(environment), sink, cancel).await,
        ),
        Err(e) => serde_json::to_value(run::ExplainResult::failure(&user_id, options_error(e))),
    };
    result.map_err(|e| Error::from_reason(format!("serializing the result failed: {e}")))
}

/// Registers `runId` for `nativeCancel` before its run is started. The run's async body starts
/// later, on a tokio thread: an abort that comes in between must find the run and not be lost.
#[napi(js_name = "nativeRegisterRun")]
pub fn native_register_run(run_id: String) -> Result<()> {
    RUNS.lock().map_err(|_| lock_error())?.entry(run_id).or_insert_with(CancellationToken::new);
    Ok(())
}

/// Cancels the run registered under `runId`; it stays registered until it ends. Returns false
/// when no such run is registered.
#[napi(js_name = "nativeCancel")]
pub fn native_cancel(run_id: String) -> Result<bool> {
    let runs = RUNS.lock().map_err(|_| lock_error())?;
    Ok(runs.get(&run_id).map(|t| t.cancel()).is_some())
}

/// Forgets `runId`: after its run, or when the run never started.
#[napi(js_name = "nativeForgetRun")]
pub fn native_forget_run(run_id: String) -> Result<()> {
    RUNS.lock().map_err(|_| lock_error())?.remove(&run_id);
    Ok(())
}

/// A run's cancellation token: the one registered under `run_id` (a cancel may already have
/// come), a new one otherwise. The run is forgotten when the guard drops.
fn register(run_id: Option<String>) -> Result<(CancellationToken, Registered)> {
    let cancel = match &run_id {
        Some(id) => {
            RUNS.lock().map_err(|_| lock_error())?.entry(id.clone()).or_insert_with(CancellationToken::new).clone()
        }
        None => CancellationToken::new(),
    };
    Ok((cancel, Registered(run_id)))
}

/// Removes its run from `RUNS` when dropped, however the run ends.
struct Registered(Option<String>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let (Some(id), Ok(mut runs)) = (&self.0, RUNS.lock()) {
            runs.remove(id);
        }
    }
}

/// The registered generators. Private: use `listGenerators()`.
#[napi(js_name = "nativeListGenerators")]
pub fn native_list_generators() -> Result<serde_json::Value> {
    serde_json::to_value(registry::list()).map_err(|e| Error::from_reason(e.to_string()))
}

/// Closes every database pool. Private: use `shutdown()`.
#[napi(js_name = "nativeShutdown")]
pub async fn native_shutdown() -> Result<()> {
    audience_engine::db::shutdown().await;
    Ok(())
}

/// Number of open database pools (diagnostics and tests).
#[napi(js_name = "nativeOpenPoolCount")]
pub fn native_open_pool_count() -> u32 {
    audience_engine::db::open_pool_count() as u32
}

fn log_sink(callback: LogCallback) -> LogSink {
    Arc::new(move |event: audience_engine::log::LogEvent| {
        if let Ok(value) = serde_json::to_value(&event) {
            callback.call(value, ThreadsafeFunctionCallMode::NonBlocking);
        }
    })
}

fn options_error(e: serde_json::Error) -> EngineError {
    EngineError::invalid_option(format!("options must be an object of option values ({e})"))
}

fn lock_error() -> Error {
    Error::from_reason(format!("{}: the run registry lock is poisoned", ErrorCode::Internal))
}
