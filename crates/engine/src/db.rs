//! Database access shared by every generator: one pool per database URL, session
//! settings, and each run's read-only snapshot, possibly spread over several
//! connections that share it, with cancellation.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::conninfo::{self, PgEnv, SslMode, Target};
use crate::error::{EngineError, ErrorCode, Result};
use crate::log::Logger;
use crate::options::GeneratorOptions;

/// Connections that runs may hold at once, per database URL. A run takes all the
/// connections it needs in one step (a semaphore), so concurrent runs never deadlock
/// waiting for each other's connections.
pub const RUN_CONNECTIONS: u32 = 9;
/// The pool keeps one connection beyond that for `pg_cancel_backend` on cancellation.
pub const MAX_CONNECTIONS: u32 = RUN_CONNECTIONS + 1;
/// How long an idle pooled connection is kept before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Memory for one sort or hash of a query: the demand counts group hundreds of
/// thousands of variants, which would spill to disk at PostgreSQL's 4 MB default.
const WORK_MEM: &str = "64MB";

/// One database: its pool and the semaphore that hands out run connections.
#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    permits: Arc<Semaphore>,
    target: Arc<Target>,
}

static DATABASES: LazyLock<Mutex<HashMap<String, Database>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The database at `database_url` (with the caller's `PG*` environment `env`), its pool created
/// on first use and reused after: one pool per distinct URL and TLS settings. Must be called
/// inside a tokio runtime. Connecting is lazy: errors surface on first use, but every file the
/// URL names is checked here.
pub fn database_for(database_url: &str, env: &PgEnv) -> Result<Database> {
    let target = conninfo::resolve(database_url, env, std::env::home_dir().as_deref())?;
    let mut databases = DATABASES.lock().map_err(|_| EngineError::internal("the pool registry lock is poisoned"))?;
    if let Some(database) = databases.get(&target.key)
        && !database.pool.is_closed()
    {
        return Ok(database.clone());
    }
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(0)
        .idle_timeout(IDLE_TIMEOUT)
        // Waits are bounded per run (`acquireTimeoutMs`) by the semaphore, not here.
        .acquire_timeout(Duration::from_secs(3600))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // Best effort, and the only session setting: PostgreSQL 14+ then stops a query within
                // a second when its client is gone (a killed host process). Older servers lack the
                // setting, Windows servers refuse any value but 0, and behind a pooler the server's
                // client is the pooler: in each case the run goes on without it. Every setting a
                // run's results depend on is set inside its transactions instead (see `begin`).
                let _ = sqlx::raw_sql("SET client_connection_check_interval = '1s'").execute(&mut *conn).await;
                Ok(())
            })
        })
        .connect_lazy_with(target.options.clone());
    let database =
        Database { pool, permits: Arc::new(Semaphore::new(RUN_CONNECTIONS as usize)), target: Arc::new(target) };
    databases.insert(database.target.key.clone(), database.clone());
    Ok(database)
}

impl Database {
    /// A failed connection attempt, in the words of its TLS settings where it is about them.
    fn connect_error(&self, doing: &str, error: sqlx::Error) -> EngineError {
        conninfo::connect_error(doing, &self.target.tls, &error).unwrap_or_else(|| EngineError::from_sqlx(doing, error))
    }

    /// Opens a transaction. Under `sslmode=allow`, as in libpq, a server that refuses an
    /// unencrypted connection is asked again over TLS (and the pool keeps to TLS from then on).
    async fn begin_transaction(&self, statement: &'static str) -> Result<Transaction<'static, Postgres>> {
        match self.pool.begin_with(statement).await {
            Ok(tx) => Ok(tx),
            Err(error) if self.target.tls.mode == SslMode::Allow && conninfo::refused_without_tls(&error) => {
                self.pool.set_connect_options(self.target.with_tls_required());
                self.pool.begin_with(statement).await.map_err(|e| self.connect_error("connecting to the database", e))
            }
            Err(error) => Err(self.connect_error("connecting to the database", error)),
        }
    }
}

/// Closes every pool and waits for their connections to close.
pub async fn shutdown() {
    let databases: Vec<Database> = match DATABASES.lock() {
        Ok(mut databases) => databases.drain().map(|(_, database)| database).collect(),
        Err(_) => return,
    };
    for database in databases {
        database.permits.close();
        database.pool.close().await;
    }
}

/// Number of open pools (for tests and diagnostics).
pub fn open_pool_count() -> usize {
    DATABASES.lock().map(|d| d.values().filter(|db| !db.pool.is_closed()).count()).unwrap_or(0)
}

/// Per-run database settings.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    pub statement_timeout: Duration,
    pub acquire_timeout: Duration,
    pub planner: Planner,
}

/// How a run's queries are planned (see `begin` for each setting's reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planner {
    /// Queries over whole tables (Layer 3's demand counts): 64 MB per sort or hash, no parallel
    /// workers (the run spreads its queries over its connections), no merge joins.
    Bulk,
    /// Index lookups for a few thousand ids (Layer 5): the server's own planner settings, under
    /// which a join on a short id list walks the indexes instead of hashing whole tables
    /// (0.05 s against 0.3–0.45 s per target-shoe query at 1M users, bench/README.md).
    Lookup,
}

/// One run's view of the database: `connections` `READ ONLY`, `REPEATABLE READ`
/// transactions that all see the same snapshot (the first exports it, the others
/// import it), so every read of the run is consistent even when queries run in parallel.
pub struct RunSnapshot {
    pub connections: Vec<Connection>,
    /// The database's `now()`: the first transaction's start time.
    pub now: DateTime<Utc>,
    _permits: OwnedSemaphorePermit,
}

/// One connection of a run's snapshot.
pub struct Connection {
    pub tx: Transaction<'static, Postgres>,
    pub canceller: Canceller,
}

impl RunSnapshot {
    /// Takes `connections` run connections (waiting at most `acquire_timeout`) and opens
    /// the snapshot on all of them.
    pub async fn open(
        database: &Database,
        connections: u32,
        settings: RunSettings,
        cancel: CancellationToken,
    ) -> Result<RunSnapshot> {
        let connections = connections.clamp(1, RUN_CONNECTIONS);
        let open = async {
            let permits = database.permits.clone().acquire_many_owned(connections).await.map_err(|_| {
                EngineError::new(
                    ErrorCode::DatabaseUnreachable,
                    "the engine was shut down: call generate again to reconnect",
                )
            })?;
            let (first, now) = begin(database, settings, &cancel, None).await?;
            let mut all = vec![first];
            if connections > 1 {
                let (exported,): (String,) = sqlx::query_as("SELECT pg_export_snapshot()")
                    .persistent(false)
                    .fetch_one(&mut *all[0].tx)
                    .await
                    .map_err(|e| EngineError::from_sqlx("exporting the snapshot", e))?;
                for _ in 1..connections {
                    all.push(begin(database, settings, &cancel, Some(&exported)).await?.0);
                }
            }
            Ok::<_, EngineError>(RunSnapshot { connections: all, now, _permits: permits })
        };
        // The pool retries failed connection attempts until the acquire timeout. When
        // opening is slow, one direct attempt tells at once whether the database refuses
        // us (down, wrong password, no such database), so nobody waits the full timeout.
        let early_check = async {
            tokio::time::sleep(settings.acquire_timeout.min(EARLY_CHECK_AFTER)).await;
            match direct_attempt(database).await {
                Some(Err(refused)) => refused,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(EngineError::cancelled()),
            opened = tokio::time::timeout(settings.acquire_timeout, open) => match opened {
                Ok(result) => result,
                Err(_) => Err(diagnose_timeout(database, settings.acquire_timeout).await),
            },
            refused = early_check => Err(refused),
        }
    }

    /// Opens the snapshot of a run with `options` (its database, TLS settings and timeouts) on
    /// `connections` connections, its queries planned for `planner`.
    pub async fn for_run(
        options: &GeneratorOptions,
        connections: u32,
        planner: Planner,
        cancel: CancellationToken,
    ) -> Result<RunSnapshot> {
        let database = database_for(&options.database_url, &options.pg_env)?;
        let settings = RunSettings {
            statement_timeout: options.statement_timeout,
            acquire_timeout: options.acquire_timeout,
            planner,
        };
        RunSnapshot::open(&database, connections, settings, cancel).await
    }

    /// Ends the transactions. They only read, so this is a rollback.
    pub async fn finish(self) -> Result<()> {
        for connection in self.connections {
            connection
                .tx
                .rollback()
                .await
                .map_err(|e| EngineError::from_sqlx("closing the snapshot transaction", e))?;
        }
        Ok(())
    }
}

/// Sets a run's transaction up; answers its server process id and `now()`.
const BULK_SETTINGS_SQL: &str = "SELECT pg_backend_pid(), now() FROM (SELECT \
    set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true), \
    set_config('statement_timeout', $1, true), set_config('work_mem', $2, true), \
    set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true), \
    set_config('max_parallel_workers_per_gather', '0', true), set_config('enable_mergejoin', 'off', true)) AS settings";

/// `Planner::Lookup`: what every result depends on (time zone, date style, the time limit) and
/// custom plans for the bound id lists; the rest as the server has it.
const LOOKUP_SETTINGS_SQL: &str = "SELECT pg_backend_pid(), now() FROM (SELECT \
    set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true), \
    set_config('statement_timeout', $1, true), set_config('jit', 'off', true), \
    set_config('plan_cache_mode', 'force_custom_plan', true)) AS settings";

/// Opens one transaction of the run: its own snapshot, or the exported one.
async fn begin(
    database: &Database,
    settings: RunSettings,
    cancel: &CancellationToken,
    exported: Option<&str>,
) -> Result<(Connection, DateTime<Utc>)> {
    let mut tx = database.begin_transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    if let Some(id) = exported {
        // SET TRANSACTION SNAPSHOT takes no parameters. The id comes from the server's
        // pg_export_snapshot() and is checked to be hex digits and dashes.
        if !is_snapshot_id(id) {
            return Err(EngineError::internal(format!("unexpected snapshot id {id:?} from the server")));
        }
        sqlx::raw_sql(AssertSqlSafe(format!("SET TRANSACTION SNAPSHOT '{id}'")))
            .execute(&mut *tx)
            .await
            .map_err(|e| EngineError::from_sqlx("sharing the snapshot", e))?;
    }
    // The run's settings hold for this transaction only (`set_config(…, true)`, as SET LOCAL):
    // behind a transaction-mode pooler (PgBouncer, Supabase's port 6543, Neon's pooled
    // endpoint) each transaction may run on another server connection, so settings made once
    // per client connection could be missing. TimeZone and DateStyle decide how
    // `last_active::text` reads and, on `timestamp` columns, the window itself. Custom plans:
    // each bound id list is a constant to the planner, so it is sized right and `= ANY($n)` is
    // matched through a hash table (generic plans search the array row by row). No parallel
    // workers: a run spreads its queries over its own connections instead. No merge joins: with
    // the id lists misjudged the planner would sort or walk a whole table in index order (8 s
    // instead of 2 s at 1M users).
    let timeout = settings.statement_timeout.as_millis().to_string();
    let query = match settings.planner {
        Planner::Bulk => sqlx::query_as(BULK_SETTINGS_SQL).bind(timeout).bind(WORK_MEM),
        Planner::Lookup => sqlx::query_as(LOOKUP_SETTINGS_SQL).bind(timeout),
    };
    let (backend_pid, now): (i32, DateTime<Utc>) = query
        .persistent(false)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| EngineError::from_sqlx("starting the snapshot transaction", e))?;
    let canceller = Canceller { pool: database.pool.clone(), backend_pid, cancel: cancel.clone() };
    Ok((Connection { tx, canceller }, now))
}

/// The connections of a run's snapshot, shared by its queries: each query takes whichever
/// connection is free and waits (first come, first served) when all are busy. The caller
/// chains the queries that depend on each other and starts the others together, so no
/// connection idles while work that could use it waits.
pub struct SharedConnections<'c> {
    free: Mutex<Vec<&'c mut Connection>>,
    available: Semaphore,
}

impl<'c> SharedConnections<'c> {
    pub fn new(connections: impl IntoIterator<Item = &'c mut Connection>) -> Self {
        let free: Vec<&'c mut Connection> = connections.into_iter().collect();
        let available = Semaphore::new(free.len());
        SharedConnections { free: Mutex::new(free), available }
    }

    /// Runs `query` on a free connection; if the run is cancelled meanwhile, the query is
    /// cancelled on the server (see `Canceller::guard`).
    pub async fn run<T>(&self, query: impl AsyncFnOnce(&mut PgConnection) -> Result<T>) -> Result<T> {
        let _permit =
            self.available.acquire().await.map_err(|_| EngineError::internal("the run's connections were closed"))?;
        let mut lease = Lease { shared: self, connection: self.take()? };
        let connection =
            lease.connection.as_mut().ok_or_else(|| EngineError::internal("a leased connection is missing"))?;
        let canceller = connection.canceller.clone();
        canceller.guard(query(&mut *connection.tx)).await
    }

    fn take(&self) -> Result<Option<&'c mut Connection>> {
        let mut free = self.free.lock().map_err(|_| EngineError::internal("the run's connection list is poisoned"))?;
        Ok(free.pop())
    }
}

/// A run's queries on its shared connections, each timed in the log under its phase.
pub struct TimedQueries<'r, 'c> {
    pub connections: &'r SharedConnections<'c>,
    pub log: &'r Logger,
}

impl TimedQueries<'_, '_> {
    pub async fn run<T>(
        &self,
        phase: &'static str,
        what: &str,
        query: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        self.connections.run(async move |c| self.log.timed(phase, what, query(c)).await).await
    }
}

/// A connection taken from `SharedConnections`, given back when dropped (also when its query
/// fails or is abandoned), before its semaphore permit is released.
struct Lease<'s, 'c> {
    shared: &'s SharedConnections<'c>,
    connection: Option<&'c mut Connection>,
}

impl Drop for Lease<'_, '_> {
    fn drop(&mut self) {
        if let (Some(connection), Ok(mut free)) = (self.connection.take(), self.shared.free.lock()) {
            free.push(connection);
        }
    }
}

fn is_snapshot_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// How long opening may take before a direct connection attempt checks the database.
const EARLY_CHECK_AFTER: Duration = Duration::from_millis(500);

/// One connection attempt outside the pool: `None` if the host does not answer in time,
/// `Some(Err)` with the reason if the database refuses, `Some(Ok)` if it accepts.
async fn direct_attempt(database: &Database) -> Option<std::result::Result<(), EngineError>> {
    use sqlx::Connection;
    let attempt = |options| async move {
        match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect_with(&options)).await {
            Err(_) => None,
            Ok(Err(error)) => Some(Err(error)),
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                Some(Ok(()))
            }
        }
    };
    let outcome = match attempt((*database.pool.connect_options()).clone()).await {
        Some(Err(error)) if database.target.tls.mode == SslMode::Allow && conninfo::refused_without_tls(&error) => {
            attempt(database.target.with_tls_required()).await
        }
        outcome => outcome,
    };
    outcome.map(|result| result.map_err(|error| database.connect_error("connecting to the database", error)))
}

/// After an acquire timeout: why no connection came.
async fn diagnose_timeout(database: &Database, acquire_timeout: Duration) -> EngineError {
    let waited = acquire_timeout.as_millis();
    match direct_attempt(database).await {
        Some(Err(refused)) => refused,
        Some(Ok(())) => EngineError::new(
            ErrorCode::DatabaseUnreachable,
            format!(
                "connecting to the database: no pooled connection within acquireTimeoutMs ({waited} ms): the pool is busy with other runs"
            ),
        ),
        None => EngineError::new(
            ErrorCode::DatabaseUnreachable,
            format!(
                "connecting to the database: no connection within acquireTimeoutMs ({waited} ms): the host does not answer"
            ),
        ),
    }
}

/// Cancels a connection's running query on the server when the run is cancelled.
#[derive(Clone)]
pub struct Canceller {
    pool: PgPool,
    backend_pid: i32,
    cancel: CancellationToken,
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
        // In a transaction of its own, so that a transaction-mode pooler keeps the statement's
        // parse and execution on one server connection. Best effort: if this fails the
        // statement timeout still ends the query.
        let cancel = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(self.backend_pid)
                .persistent(false)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), cancel).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_ids_are_checked() {
        assert!(is_snapshot_id("00000003-0000001B-1"));
        assert!(!is_snapshot_id("1'; DROP TABLE users; --"));
        assert!(!is_snapshot_id(""));
    }
}
