//! Database access shared by every generator: one pool per database URL, session
//! settings, and the run's read-only snapshot transaction with cancellation.

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio_util::sync::CancellationToken;

use crate::error::{EngineError, Result};

/// Connections per pool: a run uses one for its snapshot plus, on cancellation, one
/// to cancel the running query; concurrent runs share the rest.
const MAX_CONNECTIONS: u32 = 8;
/// How long an idle pooled connection is kept before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

static POOLS: LazyLock<Mutex<HashMap<String, PgPool>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The pool for `database_url`, created on first use and reused after. Must be called
/// inside a tokio runtime. Connecting is lazy: errors surface on the first acquire.
pub fn pool_for(database_url: &str) -> Result<PgPool> {
    let mut pools = POOLS.lock().map_err(|_| EngineError::internal("the pool registry lock is poisoned"))?;
    if let Some(pool) = pools.get(database_url) {
        if !pool.is_closed() {
            return Ok(pool.clone());
        }
    }
    let connect_options = PgConnectOptions::from_str(database_url)
        .map_err(|e| EngineError::from_sqlx("reading databaseUrl", e))?
        .application_name("audience-engine");
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(0)
        .idle_timeout(IDLE_TIMEOUT)
        // Acquire waits are bounded per run (`acquireTimeoutMs`), not here.
        .acquire_timeout(Duration::from_secs(3600))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // Settings go here rather than in the startup packet so they also work behind a pooler.
                sqlx::raw_sql("SET TimeZone = 'UTC'; SET jit = off").execute(&mut *conn).await?;
                Ok(())
            })
        })
        .connect_lazy_with(connect_options);
    pools.insert(database_url.to_string(), pool.clone());
    Ok(pool)
}

/// Closes every pool and waits for their connections to close.
pub async fn shutdown() {
    let pools: Vec<PgPool> = match POOLS.lock() {
        Ok(mut pools) => pools.drain().map(|(_, pool)| pool).collect(),
        Err(_) => return,
    };
    for pool in pools {
        pool.close().await;
    }
}

/// Number of open pools (for tests and diagnostics).
pub fn open_pool_count() -> usize {
    POOLS.lock().map(|p| p.values().filter(|pool| !pool.is_closed()).count()).unwrap_or(0)
}

/// One run's view of the database: a `READ ONLY`, `REPEATABLE READ` transaction, so
/// every read of the run sees the same snapshot.
pub struct Snapshot {
    pub tx: Transaction<'static, Postgres>,
    /// The database's `now()`: the transaction's start time.
    pub now: DateTime<Utc>,
    pub canceller: Canceller,
}

/// Cancels the snapshot's running query on the server when the run is cancelled.
#[derive(Clone)]
pub struct Canceller {
    pool: PgPool,
    backend_pid: i32,
    cancel: CancellationToken,
}

impl Snapshot {
    /// Acquires a connection (bounded by `acquire_timeout`) and opens the snapshot.
    pub async fn begin(
        pool: &PgPool,
        statement_timeout: Duration,
        acquire_timeout: Duration,
        cancel: CancellationToken,
    ) -> Result<Snapshot> {
        let open = async {
            let mut tx = pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(|e| EngineError::from_sqlx("connecting to the database", e))?;
            let (backend_pid, now): (i32, DateTime<Utc>) = sqlx::query_as(
                "SELECT pg_backend_pid(), now(), set_config('statement_timeout', $1, true)",
            )
            .bind(statement_timeout.as_millis().to_string())
            .fetch_one(&mut *tx)
            .await
            .map(|(pid, now, _): (i32, DateTime<Utc>, String)| (pid, now))
            .map_err(|e| EngineError::from_sqlx("starting the snapshot transaction", e))?;
            Ok::<_, EngineError>((tx, backend_pid, now))
        };
        let (tx, backend_pid, now) = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(EngineError::cancelled()),
            opened = tokio::time::timeout(acquire_timeout, open) => match opened {
                Ok(result) => result?,
                Err(_) => return Err(diagnose_timeout(pool, acquire_timeout).await),
            },
        };
        Ok(Snapshot { tx, now, canceller: Canceller { pool: pool.clone(), backend_pid, cancel } })
    }

    /// Ends the transaction. It only read, so this is a rollback.
    pub async fn finish(self) -> Result<()> {
        self.tx.rollback().await.map_err(|e| EngineError::from_sqlx("closing the snapshot transaction", e))
    }
}

/// After an acquire timeout, one direct connection attempt tells why (refused, bad
/// password, no such database) when it fails; otherwise the pool was simply full.
async fn diagnose_timeout(pool: &PgPool, acquire_timeout: Duration) -> EngineError {
    use sqlx::Connection;
    let options = (*pool.connect_options()).clone();
    let attempt = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect_with(&options)).await;
    match attempt {
        Ok(Err(error)) => EngineError::from_sqlx("connecting to the database", error),
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            EngineError::new(
                crate::error::ErrorCode::DatabaseUnreachable,
                format!(
                    "connecting to the database: no pooled connection within acquireTimeoutMs ({} ms): the pool is busy with other runs",
                    acquire_timeout.as_millis()
                ),
            )
        }
        Err(_) => EngineError::new(
            crate::error::ErrorCode::DatabaseUnreachable,
            format!(
                "connecting to the database: no connection within acquireTimeoutMs ({} ms): the host does not answer",
                acquire_timeout.as_millis()
            ),
        ),
    }
}

impl Canceller {
    /// Runs one database step of the run; if the run is cancelled meanwhile, the query is
    /// cancelled on the server (`pg_cancel_backend`) and `CANCELLED` is returned.
    pub async fn guard<T, F>(&self, fut: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => {
                self.cancel_on_server().await;
                Err(EngineError::cancelled())
            }
            result = fut => result,
        }
    }

    async fn cancel_on_server(&self) {
        // Best effort: if this fails the statement timeout still ends the query.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::query("SELECT pg_cancel_backend($1)").bind(self.backend_pid).execute(&self.pool),
        )
        .await;
    }
}
