//! The one error type of the engine, with stable codes that JavaScript code can branch on.

use std::fmt;

/// Stable error codes. Their string form (`code.as_str()`) is part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// An option has a wrong type or value.
    InvalidOption,
    /// No generator has the requested name or legacy id.
    UnknownGenerator,
    /// Neither `databaseUrl` nor `DATABASE_URL` gave a database URL.
    NoDatabaseUrl,
    /// The database could not be reached or refused the login.
    DatabaseUnreachable,
    /// A query failed.
    DatabaseError,
    /// A query ran longer than `statementTimeoutMs`.
    QueryTimeout,
    /// `outputDir` cannot be created or written.
    OutputDir,
    /// Writing a CSV file failed.
    WriteFailed,
    /// The run was cancelled by its caller.
    Cancelled,
    /// A bug: something that should not happen did.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidOption => "INVALID_OPTION",
            ErrorCode::UnknownGenerator => "UNKNOWN_GENERATOR",
            ErrorCode::NoDatabaseUrl => "NO_DATABASE_URL",
            ErrorCode::DatabaseUnreachable => "DATABASE_UNREACHABLE",
            ErrorCode::DatabaseError => "DATABASE_ERROR",
            ErrorCode::QueryTimeout => "QUERY_TIMEOUT",
            ErrorCode::OutputDir => "OUTPUT_DIR",
            ErrorCode::WriteFailed => "WRITE_FAILED",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine error: a stable code and a message that says what was wrong, with which
/// value, and what is allowed. Messages never carry credentials or users' personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// Any `scheme://user:password@` in `message` (a value echoed back, such as a database URL
    /// passed as the wrong option) has its password replaced by `***`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        EngineError { code, message: redact_passwords(&message.into()) }
    }

    pub fn invalid_option(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidOption, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn cancelled() -> Self {
        Self::new(ErrorCode::Cancelled, "the run was cancelled; no file was written")
    }

    /// Maps a database error. `doing` says what the engine was doing ("reading activity").
    ///
    /// sqlx's messages for connection failures can contain the host but never the password;
    /// the server's own messages (`DatabaseError::message`) carry no connection details.
    pub fn from_sqlx(doing: &str, error: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &error {
            E::PoolTimedOut => Self::new(
                ErrorCode::DatabaseUnreachable,
                format!(
                    "{doing}: no database connection could be had within the acquire timeout (the database is down, unreachable or at its connection limit)"
                ),
            ),
            E::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Self::new(
                ErrorCode::DatabaseUnreachable,
                format!(
                    "{doing}: the server closed the connection unexpectedly (is a PostgreSQL server at that address?)"
                ),
            ),
            E::Io(io) => {
                Self::new(ErrorCode::DatabaseUnreachable, format!("{doing}: the database could not be reached ({io})"))
            }
            E::Tls(_) => Self::new(
                ErrorCode::DatabaseUnreachable,
                format!("{doing}: the TLS handshake with the database failed"),
            ),
            E::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                match code.as_str() {
                    // query_canceled: statement_timeout (our cancellation is reported before this)
                    "57014" => Self::new(
                        ErrorCode::QueryTimeout,
                        format!(
                            "{doing}: the query exceeded the statement timeout (statementTimeoutMs) and was cancelled by the server"
                        ),
                    ),
                    "28P01" | "28000" => Self::new(
                        ErrorCode::DatabaseUnreachable,
                        format!(
                            "{doing}: the database refused the login (SQLSTATE {code}): check the user and password of the database URL"
                        ),
                    ),
                    "3D000" => Self::new(
                        ErrorCode::DatabaseUnreachable,
                        format!("{doing}: the database named in the database URL does not exist (SQLSTATE 3D000)"),
                    ),
                    c if c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03" => Self::new(
                        ErrorCode::DatabaseUnreachable,
                        format!("{doing}: the database connection failed (SQLSTATE {code}): {}", db.message()),
                    ),
                    _ => Self::new(
                        ErrorCode::DatabaseError,
                        format!("{doing}: the query failed (SQLSTATE {code}): {}", db.message()),
                    ),
                }
            }
            E::Protocol(_) | E::PoolClosed | E::WorkerCrashed => Self::new(
                ErrorCode::DatabaseUnreachable,
                format!("{doing}: the database connection was lost ({})", sanitize(&error.to_string())),
            ),
            E::Configuration(_) => Self::new(
                ErrorCode::InvalidOption,
                "databaseUrl is not a valid PostgreSQL URL (expected postgres://user:password@host:port/database)",
            ),
            _ => Self::new(ErrorCode::DatabaseError, format!("{doing}: {}", sanitize(&error.to_string()))),
        }
    }
}

/// `text` with the password of every `scheme://user:password@host` replaced by `***`. The user
/// runs to the first `:` (it may hold an `@`, as Azure's `user@server` does), the password to
/// the last `@` of its whitespace-delimited word, so one with an unencoded `@`, `/` or `:` is
/// hidden whole. The word `password` itself, the placeholder of the engine's own examples, is
/// kept.
pub fn redact_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Word by word, whitespace kept: each word is scanned once, so any input takes linear time.
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end_matches(char::is_whitespace);
        redact_word(word, &mut out);
        out.push_str(&piece[word.len()..]);
    }
    out
}

fn redact_word(word: &str, out: &mut String) {
    let last_at = word.rfind('@');
    let mut from = 0;
    while let Some(found) = word[from..].find("://") {
        let user_start = from + found + 3;
        let user_end = word[user_start..].find([':', '/']).map_or(word.len(), |i| user_start + i);
        if let Some(at) = last_at {
            let is_password = word[user_end..].starts_with(':') && at > user_end;
            if is_password && &word[user_end + 1..at] != "password" {
                out.push_str(&word[..=user_end]);
                out.push_str("***");
                out.push_str(&word[at..]);
                return;
            }
        }
        // Nothing to hide from here; a later `://` in the same word is still looked at.
        from = user_start;
    }
    out.push_str(word);
}

/// `value` as a message echoes it: any URL's password hidden first, then cut to `max_chars`
/// (marked `…`), so that a long URL cannot push its password past the redaction.
pub fn echo(value: &str, max_chars: usize) -> String {
    let shown = redact_passwords(value);
    if shown.chars().count() <= max_chars {
        shown
    } else {
        format!("{}…", shown.chars().take(max_chars).collect::<String>())
    }
}

/// Removes anything that looks like a URL with credentials from a library message.
fn sanitize(message: &str) -> String {
    message
        .split_whitespace()
        .map(|word| if word.contains("://") || word.contains('@') { "<redacted>" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EngineError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_urls_and_user_at_host() {
        assert_eq!(sanitize("failed postgres://u:secret@h/db and u:secret@h"), "failed <redacted> and <redacted>");
    }

    #[test]
    fn passwords_in_echoed_urls_are_hidden() {
        let cases = [
            (
                r#"got "postgres://reader:hunter2@db.example:5432/m""#,
                r#"got "postgres://reader:***@db.example:5432/m""#,
            ),
            ("a postgresql://u:p@ss/w:rd@h/db b x://v:w@y", "a postgresql://u:***@h/db b x://v:***@y"),
            ("postgres://user@host/db and postgres://host/db", "postgres://user@host/db and postgres://host/db"),
            ("http://example.com/a:b@c", "http://example.com/a:b@c"),
            ("no url: user:secret@host", "no url: user:secret@host"),
            ("ends with ://", "ends with ://"),
            ("expected postgres://user:password@host:port/db", "expected postgres://user:password@host:port/db"),
            ("postgres://u:@h/db", "postgres://u:***@h/db"),
            (
                "postgres://reader@myserver:S3cret@myserver.example/db",
                "postgres://reader@myserver:***@myserver.example/db",
            ),
            ("http://proxy/?to=postgres://u:hunter22@h/db", "http://proxy/?to=postgres://u:***@h/db"),
            ("postgres://user@host:5432/db", "postgres://user@host:5432/db"),
        ];
        for (text, redacted) in cases {
            assert_eq!(redact_passwords(text), redacted);
        }
        let e = EngineError::new(ErrorCode::UnknownGenerator, r#"unknown generator "postgres://r:hunter2@h/m""#);
        assert!(!e.message.contains("hunter2") && !e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn redaction_passes_over_a_megabyte_of_url_like_text() {
        // One word of 200,000 `://`: each word is scanned once (the earlier rescan per `://`
        // took seconds on 80 KB).
        let hostile = "a://a:".repeat(200_000);
        assert_eq!(redact_passwords(&hostile), hostile);
        assert_eq!(redact_passwords(&format!("{hostile}@h")), format!("a://a:***@h"));
    }

    #[test]
    fn echo_hides_the_password_before_it_cuts() {
        let long = format!("postgres://audience_engine_readonly:{}@db.internal:5432/market", "Zk3v9QpL".repeat(8));
        let shown = echo(&long, 80);
        assert!(!shown.contains("Zk3v9QpL"), "{shown}");
        assert!(shown.starts_with("postgres://audience_engine_readonly:***@db.internal"), "{shown}");
        assert_eq!(echo("short", 80), "short");
        assert_eq!(echo("abcdef", 3), "abc…");
    }

    #[test]
    fn pool_timeout_is_unreachable() {
        let e = EngineError::from_sqlx("connecting", sqlx::Error::PoolTimedOut);
        assert_eq!(e.code, ErrorCode::DatabaseUnreachable);
        assert!(e.message.starts_with("connecting: "));
    }
}
