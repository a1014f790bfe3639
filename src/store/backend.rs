//! What differs between SQLite and PostgreSQL: how to connect, and the few pieces of SQL the two speak differently (`Backend`'s dialect methods). The stores
//! write every statement once and ask the backend for those pieces; nothing outside this file
//! matches on the backend.

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor};

use crate::config::DatabaseConfig;

/// How long a pooled connection may sit unused before it is pinged on its next acquire.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// The one migrations folder both backends run: sqlx records each migration by its version
/// and the SHA-384 of its SQL, not by its folder.
pub(super) static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The most parameters one statement may bind: SQLite's default limit (32766 since 3.32;
    /// the bundled library is 3.46) and PostgreSQL's protocol limit (65535).
    pub fn max_bind_params(self) -> usize {
        match self {
            Self::Sqlite => 32_766,
            Self::Postgres => 65_535,
        }
    }

    /// Whether the database has one writer at a time (SQLite), so this instance's writers queue
    /// for it at the store's gate (see `Store::write_tx`).
    pub(super) fn single_writer(self) -> bool {
        match self {
            Self::Sqlite => true,
            Self::Postgres => false,
        }
    }

    /// The statement that opens a write transaction: on SQLite it takes the write lock at once.
    pub(super) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// Whether a transaction can lock single rows (`FOR UPDATE`, `FOR SHARE`). SQLite cannot,
    /// and needs not: its write transaction already excludes every other writer.
    pub(super) fn row_locks(self) -> bool {
        match self {
            Self::Sqlite => false,
            Self::Postgres => true,
        }
    }

    /// The clause that ends a query locking the rows it reads of `alias` in shared mode
    /// (with its leading space), or nothing where there are no row locks.
    pub(super) fn share_lock_of(self, alias: &str) -> String {
        if self.row_locks() {
            format!(" FOR SHARE OF {alias}")
        } else {
            String::new()
        }
    }

    /// The clause that ends a claim's inner `SELECT`, so that workers claiming at once take
    /// different rows instead of waiting for each other, or nothing on SQLite.
    pub(super) fn skip_locked(self) -> &'static str {
        if self.row_locks() {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    }

    /// Writes that go together, as one query, in order: on PostgreSQL one statement of
    /// data-modifying CTEs named as given (a query with parameters is one statement there),
    /// on SQLite the statements one after another, which it runs in one call with the same
    /// numbered parameters.
    pub(super) fn chain_writes(self, writes: &[(&str, String)]) -> String {
        match self {
            Self::Postgres => {
                let ctes: Vec<String> = writes
                    .iter()
                    .map(|(name, sql)| format!("{name} AS ({sql})"))
                    .collect();
                format!("WITH {} SELECT 1", ctes.join(", "))
            }
            Self::Sqlite => writes
                .iter()
                .map(|(_, sql)| sql.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// A `FROM` item whose rows are the items of the comma-separated text parameter `param`
    /// (none when it is empty), in a column named `column`. Only for items without quotes or
    /// commas (ids).
    pub(super) fn comma_list_rows(self, param: &str, column: &str) -> String {
        match self {
            Self::Postgres => format!("unnest(string_to_array({param}, ',')) AS {column}"),
            // SQLite has no split: the list becomes a JSON array of strings.
            Self::Sqlite => format!(
                "(SELECT value AS {column} FROM json_each('[\"' || replace({param}, ',', '\",\"') || '\"]') \
                 WHERE value <> '')"
            ),
        }
    }
}

/// What a worker claims: the due rows of `table`, `order`ed, each leased until a time.
///
/// The claim is one statement: `UPDATE table SET lease_until = $2 WHERE id IN (SELECT id …
/// WHERE due AND lease expired ORDER BY order LIMIT $3) RETURNING returning`, where `$1` is
/// now and `args` are bound from `$4` on; `due` may use all of them. Every claimed table has
/// `id` and `lease_until`, and a partial or composite index that serves `due` and `order`.
pub(super) struct Claim<'a> {
    pub table: &'static str,
    /// The rows that are due at `$1`, apart from their lease.
    pub due: &'static str,
    pub order: &'static str,
    pub returning: &'a str,
    pub args: &'a [String],
}

impl super::Store {
    /// Claims up to `limit` rows as `claim` says, leased until `lease_until`, as one write
    /// statement. On PostgreSQL the inner `SELECT` skips rows another worker is claiming.
    pub(super) async fn claim(
        &self,
        claim: Claim<'_>,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> super::Result<Vec<AnyRow>> {
        let Claim {
            table,
            due,
            order,
            returning,
            args,
        } = claim;
        let lock = self.backend.skip_locked();
        let sql = format!(
            "UPDATE {table} SET lease_until = $2 WHERE id IN (SELECT id FROM {table} \
               WHERE {due} AND (lease_until IS NULL OR lease_until < $1) \
               ORDER BY {order} LIMIT $3 {lock}) \
             RETURNING {returning}"
        );
        let mut query = sqlx::query(&sql).bind(now).bind(lease_until).bind(limit);
        for arg in args {
            query = query.bind(arg.clone());
        }
        Ok(query.fetch_all(&mut *self.writer().await?).await?)
    }
}

pub(super) async fn connect(
    url: &str,
    config: &DatabaseConfig,
) -> sqlx::Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url).ok_or_else(|| {
        sqlx::Error::Configuration("database URL must be sqlite: or postgres://".into())
    })?;
    let options = AnyPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_seconds))
        // A connection in steady use is known to be alive; pinging it on every acquire would
        // cost a round trip per query. One that sat idle may have been cut by the server or a
        // proxy, so it is checked first, and dropped if it does not answer.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < IDLE_BEFORE_PING {
                    return Ok(true);
                }
                Ok(conn.ping().await.is_ok())
            })
        });
    let pool = match backend {
        Backend::Sqlite => {
            let url = sqlite_url(url)?;
            options
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // WAL lets readers run beside the one writer; the busy timeout makes a
                        // second writer wait instead of failing. FULL syncs the log at every
                        // commit, so what was acknowledged (a webhook's Ack, a created client)
                        // survives a power cut, not only a crash; it cost about 13% on the
                        // intake and invite benchmarks and nothing on the others.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                             PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await?
        }
        Backend::Postgres => options.connect(url).await?,
    };
    // Fail at start-up, not on the first request, when the database is unreachable.
    pool.acquire().await?.ping().await?;
    Ok((pool, backend))
}

/// Makes sure a file database and its folder exist, and asks SQLite to create the file.
fn sqlite_url(url: &str) -> sqlx::Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return Ok(url.to_string());
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            sqlx::Error::Configuration(
                format!("cannot create the folder {}: {e}", parent.display()).into(),
            )
        })?;
    }
    if query.contains("mode=") {
        Ok(url.to_string())
    } else if query.is_empty() {
        Ok(format!("{url}?mode=rwc"))
    } else {
        Ok(format!("{url}&mode=rwc"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_url_asks_for_creation() {
        let dir = std::env::temp_dir().join(format!("liaison-url-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}/x.db", dir.display());
        assert_eq!(sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.is_dir());
        std::fs::remove_dir_all(dir).unwrap();
        assert_eq!(sqlite_url("sqlite::memory:").unwrap(), "sqlite::memory:");
    }
}
