//! libpq's connection conventions on top of sqlx, so that a URL that works with `psql` works
//! here: `sslmode` (default `prefer`), `sslrootcert` (a PEM bundle, or `system`), `sslcert` +
//! `sslkey`, each from the URL or else from `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`,
//! `PGSSLKEY`; the default files under `~/.postgresql/`; and errors that name the real cause
//! of a refused connection.
//!
//! The environment comes from the caller (the JavaScript side reads `process.env`), not from
//! this process's own: a host that changes `process.env` must see its change taken.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::error::{EngineError, ErrorCode, Result};

/// The `PG*` environment variables the engine honours, as the caller's environment has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgEnv {
    vars: BTreeMap<String, String>,
}

/// The variables read, each standing for the URL parameter of the same meaning.
pub const PG_ENV_VARS: &[(&str, Param)] = &[
    ("PGSSLMODE", Param::SslMode),
    ("PGSSLROOTCERT", Param::SslRootCert),
    ("PGSSLCERT", Param::SslCert),
    ("PGSSLKEY", Param::SslKey),
];

impl PgEnv {
    /// Keeps the variables of `PG_ENV_VARS` that are set and not empty (libpq ignores empty ones).
    pub fn from_vars<K: AsRef<str>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        let vars = vars
            .into_iter()
            .filter(|(name, _)| PG_ENV_VARS.iter().any(|(known, _)| *known == name.as_ref()))
            .map(|(name, value)| (name.as_ref().to_string(), value.into()))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        PgEnv { vars }
    }

    fn get(&self, param: Param) -> Option<(&str, Source)> {
        let (name, _) = PG_ENV_VARS.iter().find(|(_, p)| *p == param)?;
        self.vars.get(*name).map(|value| (value.as_str(), Source::Env(name)))
    }
}

/// The TLS parameters of a connection, by their libpq names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    SslMode,
    SslRootCert,
    SslCert,
    SslKey,
    SslPassword,
}

impl Param {
    fn name(self) -> &'static str {
        match self {
            Param::SslMode => "sslmode",
            Param::SslRootCert => "sslrootcert",
            Param::SslCert => "sslcert",
            Param::SslKey => "sslkey",
            Param::SslPassword => "sslpassword",
        }
    }

    /// The libpq name, and the spellings sqlx also accepts in a URL.
    fn from_url_key(key: &str) -> Option<Param> {
        match key {
            "sslmode" | "ssl-mode" => Some(Param::SslMode),
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => Some(Param::SslRootCert),
            "sslcert" | "ssl-cert" => Some(Param::SslCert),
            "sslkey" | "ssl-key" => Some(Param::SslKey),
            "sslpassword" => Some(Param::SslPassword),
            _ => None,
        }
    }
}

/// Where a setting came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Url,
    Env(&'static str),
    Default,
}

/// `sslmode`, as libpq defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [(&'static str, SslMode); 6] = [
        ("disable", SslMode::Disable),
        ("allow", SslMode::Allow),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ];

    fn parse(value: &str) -> Option<SslMode> {
        Self::ALL.iter().find(|(name, _)| *name == value).map(|(_, mode)| *mode)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, mode)| *mode == self).map(|(name, _)| *name).unwrap_or("?")
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }

    fn to_sqlx(self) -> PgSslMode {
        match self {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow => PgSslMode::Allow,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The certificates that vouch for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// None given: only `disable` to `require` work.
    None,
    /// `sslrootcert=system`: the operating system's trust store.
    System,
    /// A PEM bundle.
    File(PathBuf),
}

/// A connection's TLS settings, resolved from the URL, the environment and the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The mode as asked for (`sslmode=require` with a root certificate file verifies as
    /// `verify-ca` does, as in libpq; `effective_mode` says so).
    pub mode: SslMode,
    pub root: RootCerts,
    pub client: Option<ClientCert>,
    /// The host name the certificate must name under `verify-full`.
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Tls {
    /// libpq: "if a root CA file exists, the behavior of sslmode=require will be the same as
    /// that of verify-ca".
    pub fn effective_mode(&self) -> SslMode {
        match (self.mode, &self.root) {
            (SslMode::Require, RootCerts::File(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        }
    }
}

/// A database URL made ready to connect: sqlx's options and the TLS settings behind them.
#[derive(Debug, Clone)]
pub struct Target {
    pub options: PgConnectOptions,
    pub tls: Tls,
    /// Tells pools apart: the URL and every TLS setting (one pool per distinct connection).
    pub key: String,
}

impl Target {
    /// The same target with TLS required: libpq's `allow` tries without TLS first, and with it
    /// when the server refuses an unencrypted connection.
    pub fn with_tls_required(&self) -> PgConnectOptions {
        self.options.clone().ssl_mode(PgSslMode::Require)
    }
}

/// Resolves `database_url` with the environment `env`, checking every file it names.
/// `home` is where `~/.postgresql/` is looked for (libpq's default certificate files).
pub fn resolve(database_url: &str, env: &PgEnv, home: Option<&Path>) -> Result<Target> {
    let url = url::Url::parse(database_url).map_err(|_| {
        EngineError::invalid_option(
            "databaseUrl is not a valid PostgreSQL URL: expected postgres://user:password@host:port/database (the value is not shown because it may hold credentials)",
        )
    })?;
    let mut from_url: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut kept = url.clone();
    kept.set_query(None);
    {
        let mut query = kept.query_pairs_mut();
        for (key, value) in url.query_pairs() {
            match Param::from_url_key(&key) {
                Some(param) => {
                    from_url.insert(param.name(), value.into_owned());
                }
                None => {
                    query.append_pair(&key, &value);
                }
            }
        }
    }
    if kept.query() == Some("") {
        kept.set_query(None);
    }
    let setting = |param: Param| -> Option<(String, Source)> {
        if let Some(value) = from_url.get(param.name()).filter(|v| !v.is_empty()) {
            return Some((value.clone(), Source::Url));
        }
        env.get(param).map(|(value, source)| (value.to_string(), source))
    };

    let mode = match setting(Param::SslMode) {
        None => SslMode::Prefer,
        Some((value, source)) => SslMode::parse(&value).ok_or_else(|| {
            EngineError::invalid_option(format!(
                "{} must be one of disable, allow, prefer, require, verify-ca, verify-full, got {:?}",
                described(Param::SslMode, source),
                crate::error::echo(&value, 40)
            ))
        })?,
    };

    let default_dir = home.map(|h| h.join(".postgresql"));
    let root = match setting(Param::SslRootCert) {
        Some((value, _)) if value == "system" => RootCerts::System,
        Some((value, source)) => RootCerts::File(check_root_file(Path::new(&value), source)?),
        None => match default_dir.as_ref().map(|d| d.join("root.crt")).filter(|p| p.is_file()) {
            Some(default) if mode != SslMode::Disable => RootCerts::File(check_root_file(&default, Source::Default)?),
            _ => RootCerts::None,
        },
    };
    if root == RootCerts::System && mode != SslMode::VerifyFull && mode != SslMode::Disable {
        // As libpq 16: trusting every public CA without checking the host name proves nothing.
        return Err(EngineError::invalid_option(format!(
            "sslrootcert=system needs sslmode=verify-full (got sslmode={mode}): the system's trust store vouches for any host name it has a certificate for, so only the host name check makes it safe"
        )));
    }
    if mode.verifies() && root == RootCerts::None {
        let default = default_dir
            .map(|d| d.join("root.crt").display().to_string())
            .unwrap_or_else(|| "~/.postgresql/root.crt".into());
        return Err(EngineError::invalid_option(format!(
            "sslmode={mode} verifies the server's certificate, but no trusted root certificate was given: set sslrootcert to your provider's CA bundle (a PEM file, e.g. the RDS global bundle), or sslrootcert=system for the operating system's trust store (default file {default} does not exist)"
        )));
    }

    let client = if mode == SslMode::Disable {
        None
    } else {
        client_cert(&setting, default_dir.as_deref(), from_url.contains_key(Param::SslPassword.name()))?
    };

    let host = url.host_str().unwrap_or("localhost").trim_start_matches('[').trim_end_matches(']').to_string();
    let tls = Tls { mode, root, client, host };
    let options = connect_options(kept.as_str(), &tls)?;
    let key = format!("{database_url}\u{0}{tls:?}");
    Ok(Target { options, tls, key })
}

fn connect_options(url: &str, tls: &Tls) -> Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| EngineError::from_sqlx("reading databaseUrl", e))?
        .application_name("audience-engine")
        // A text-format float setting the engine does not use, which PgBouncer refuses as an
        // unsupported startup parameter unless its `ignore_startup_parameters` lists it.
        .extra_float_digits(None)
        .ssl_mode(tls.effective_mode().to_sqlx());
    // sqlx adds any root certificate to the system's trust store (its rustls backend loads
    // the system's roots on every handshake); an empty one leaves the system's alone, and
    // replaces any root certificate sqlx read from this process's own environment.
    let options = match &tls.root {
        RootCerts::File(path) => options.ssl_root_cert(path),
        RootCerts::System | RootCerts::None => options.ssl_root_cert_from_pem(Vec::new()),
    };
    Ok(match &tls.client {
        Some(client) => options.ssl_client_cert(&client.cert).ssl_client_key(&client.key),
        None => options,
    })
}

type Setting<'a> = dyn Fn(Param) -> Option<(String, Source)> + 'a;

/// `sslcert` and `sslkey`, given together, or libpq's default pair under `~/.postgresql/`.
fn client_cert(setting: &Setting<'_>, default_dir: Option<&Path>, has_password: bool) -> Result<Option<ClientCert>> {
    let cert = setting(Param::SslCert);
    let key = setting(Param::SslKey);
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) => {
            let Some(dir) = default_dir else { return Ok(None) };
            let (cert, key) = (dir.join("postgresql.crt"), dir.join("postgresql.key"));
            if !cert.is_file() || !key.is_file() {
                return Ok(None);
            }
            let text = |p: &Path| (p.display().to_string(), Source::Default);
            (text(&cert), text(&key))
        }
        (Some((_, source)), None) => {
            return Err(EngineError::invalid_option(format!(
                "{} is set but sslkey is not: a client certificate needs its private key (set sslkey, or PGSSLKEY)",
                described(Param::SslCert, source)
            )));
        }
        (None, Some((_, source))) => {
            return Err(EngineError::invalid_option(format!(
                "{} is set but sslcert is not: a client key needs its certificate (set sslcert, or PGSSLCERT)",
                described(Param::SslKey, source)
            )));
        }
    };
    let cert_path = PathBuf::from(&cert.0);
    let cert_text = read_file(Param::SslCert, &cert_path, cert.1)?;
    if !cert_text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(file_error(
            Param::SslCert,
            &cert_path,
            cert.1,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    let key_path = PathBuf::from(&key.0);
    let key_text = read_file(Param::SslKey, &key_path, key.1)?;
    if key_text.contains("ENCRYPTED") {
        let password = if has_password { "sslpassword is not supported: " } else { "" };
        return Err(file_error(
            Param::SslKey,
            &key_path,
            key.1,
            &format!(
                "is encrypted with a passphrase; {password}give the key without its passphrase (for example `openssl pkey -in encrypted.key -out client.key`, mode 0600)"
            ),
        ));
    }
    if !key_text.contains("PRIVATE KEY-----") {
        return Err(file_error(
            Param::SslKey,
            &key_path,
            key.1,
            "holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
        ));
    }
    Ok(Some(ClientCert { cert: cert_path, key: key_path }))
}

fn check_root_file(path: &Path, source: Source) -> Result<PathBuf> {
    let text = read_file(Param::SslRootCert, path, source)?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(file_error(
            Param::SslRootCert,
            path,
            source,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(path.to_path_buf())
}

fn read_file(param: Param, path: &Path, source: Source) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_string(),
            std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".to_string(),
            std::io::ErrorKind::IsADirectory => "is a directory, not a PEM file".to_string(),
            _ => format!("cannot be read: {e}"),
        };
        file_error(param, path, source, &why)
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn file_error(param: Param, path: &Path, source: Source, why: &str) -> EngineError {
    let source = match source {
        Source::Url => format!("{} in the database URL", param.name()),
        Source::Env(name) => format!("{} (from {name})", param.name()),
        Source::Default => format!("{}'s default file", param.name()),
    };
    EngineError::invalid_option(format!("{source}: {} {why}", path.display()))
}

fn described(param: Param, source: Source) -> String {
    match source {
        Source::Url | Source::Default => format!("{} in the database URL", param.name()),
        Source::Env(name) => format!("{} (from {name})", param.name()),
    }
}

/// The server refused a connection because it was not encrypted (`hostnossl … reject`, or only
/// `hostssl` lines in pg_hba.conf).
pub fn refused_without_tls(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("28000") && db.message().contains("no encryption"))
}

/// The cause of a failed connection in the words of the TLS settings behind it, or `None`
/// when the cause is not about TLS (the caller's general mapping then applies).
pub fn connect_error(doing: &str, tls: &Tls, error: &sqlx::Error) -> Option<EngineError> {
    let unreachable =
        |message: String| Some(EngineError::new(ErrorCode::DatabaseUnreachable, format!("{doing}: {message}")));
    match error {
        sqlx::Error::Tls(inner) if inner.to_string().contains("does not support TLS") => unreachable(format!(
            "the server does not accept TLS connections, but sslmode={} requires TLS: enable ssl on the server, or use sslmode=prefer (TLS when the server offers it)",
            tls.mode
        )),
        sqlx::Error::Tls(inner) => match find_rustls_error(inner.as_ref()) {
            Some(rustls) => unreachable(handshake_failure(tls, rustls)),
            None => unreachable(format!("the TLS handshake with the database failed: {inner}")),
        },
        sqlx::Error::Io(io) => find_rustls_error(io).map(|rustls| {
            EngineError::new(ErrorCode::DatabaseUnreachable, format!("{doing}: {}", handshake_failure(tls, rustls)))
        }),
        sqlx::Error::Configuration(inner) if tls.client.is_some() && inner.to_string().contains("key") => {
            unreachable(format!(
                "the client key sslkey ({}) could not be used: {inner}",
                tls.client.as_ref().map(|c| c.key.display().to_string()).unwrap_or_default()
            ))
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("28000") => {
            let message = db.message();
            if message.contains("no encryption") {
                return unreachable(format!(
                    "the server accepts only TLS connections from this client, but sslmode={}: use sslmode=require, or better sslmode=verify-full with sslrootcert",
                    tls.mode
                ));
            }
            if message.contains("requires a valid client certificate") {
                return unreachable(
                    "the server requires a client certificate (pg_hba.conf `cert` authentication): set sslcert and sslkey in the database URL (or PGSSLCERT and PGSSLKEY)".to_string(),
                );
            }
            if message.contains("certificate authentication failed") {
                let cert = tls.client.as_ref().map(|c| format!(" sslcert ({})", c.cert.display())).unwrap_or_default();
                return unreachable(format!(
                    "the server did not accept the client certificate{cert} for this user: its common name (CN) must be the database user name, or map to it in pg_ident.conf"
                ));
            }
            None
        }
        _ => None,
    }
}

fn handshake_failure(tls: &Tls, error: &rustls::Error) -> String {
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error as E};
    let trusted_by = match &tls.root {
        RootCerts::File(path) => format!("by sslrootcert ({})", path.display()),
        RootCerts::System => "by the operating system's trust store (sslrootcert=system)".to_string(),
        RootCerts::None => "(no sslrootcert)".to_string(),
    };
    match error {
        E::InvalidCertificate(Cert::UnknownIssuer) => format!(
            "the server's certificate is not trusted {trusted_by}: it was not issued by a certificate authority there (is sslrootcert your provider's CA bundle?)"
        ),
        E::InvalidCertificate(Cert::NotValidForNameContext { presented, .. }) => format!(
            "the server's certificate is not valid for the host name {} (sslmode=verify-full checks it): it names {}; connect with a host name the certificate names, or use sslmode=verify-ca to check only the issuer",
            tls.host,
            if presented.is_empty() {
                "no host name".to_string()
            } else {
                presented.iter().map(|name| presented_name(name)).collect::<Vec<_>>().join(", ")
            }
        ),
        E::InvalidCertificate(Cert::NotValidForName) => format!(
            "the server's certificate is not valid for the host name {} (sslmode=verify-full checks it); connect with a host name the certificate names, or use sslmode=verify-ca to check only the issuer",
            tls.host
        ),
        E::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => {
            "the server's certificate has expired".to_string()
        }
        E::InvalidCertificate(Cert::NotValidYet | Cert::NotValidYetContext { .. }) => {
            "the server's certificate is not valid yet (is this machine's clock right?)".to_string()
        }
        E::InvalidCertificate(other) => {
            format!("the server's certificate was rejected ({other:?}), checked {trusted_by}")
        }
        E::AlertReceived(
            alert @ (Alert::UnknownCA
            | Alert::BadCertificate
            | Alert::CertificateUnknown
            | Alert::CertificateRequired
            | Alert::AccessDenied
            | Alert::DecryptError
            | Alert::UnsupportedCertificate),
        ) => match &tls.client {
            Some(client) => format!(
                "the server refused the client certificate sslcert ({}) during the TLS handshake (alert {alert:?}): is it signed by a CA the server trusts (its ssl_ca_file)?",
                client.cert.display()
            ),
            None => format!(
                "the server refused the TLS handshake (alert {alert:?}): it may require a client certificate: set sslcert and sslkey"
            ),
        },
        other => format!("the TLS handshake with the database failed: {other}"),
    }
}

/// A name as rustls presents it (`DnsName("db.example.com")`), without its wrapping.
fn presented_name(name: &str) -> &str {
    match (name.find('"'), name.rfind('"')) {
        (Some(first), Some(last)) if last > first => &name[first + 1..last],
        _ => name,
    }
}

/// The rustls error at the root of a handshake failure: sqlx passes it inside an I/O error.
fn find_rustls_error<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(found);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

    fn env(pairs: &[(&str, &str)]) -> PgEnv {
        PgEnv::from_vars(pairs.iter().copied())
    }

    fn files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), CERT).unwrap();
        std::fs::write(dir.path().join("client.crt"), CERT).unwrap();
        std::fs::write(dir.path().join("client.key"), KEY).unwrap();
        std::fs::write(
            dir.path().join("encrypted.key"),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        dir
    }

    fn tls(url: &str, env: &PgEnv, home: Option<&Path>) -> Result<Tls> {
        resolve(url, env, home).map(|t| t.tls)
    }

    #[test]
    fn the_default_is_prefer_without_certificates() {
        let home = tempfile::tempdir().unwrap();
        let t = tls("postgres://u:p@db.example.com:5432/x", &PgEnv::default(), Some(home.path())).unwrap();
        assert_eq!(
            t,
            Tls { mode: SslMode::Prefer, root: RootCerts::None, client: None, host: "db.example.com".into() }
        );
    }

    #[test]
    fn the_url_wins_over_the_environment() {
        let t = tls("postgres://h/x?sslmode=require", &env(&[("PGSSLMODE", "disable")]), None).unwrap();
        assert_eq!(t.mode, SslMode::Require);
        let t = tls("postgres://h/x", &env(&[("PGSSLMODE", "disable"), ("PGHOST", "x")]), None).unwrap();
        assert_eq!(t.mode, SslMode::Disable);
        let t = tls("postgres://h/x", &env(&[("PGSSLMODE", "")]), None).unwrap();
        assert_eq!(t.mode, SslMode::Prefer, "an empty variable is unset, as in libpq");
    }

    #[test]
    fn a_bad_sslmode_names_where_it_came_from_and_what_is_allowed() {
        let e = tls("postgres://u:hunter2@h/x?sslmode=verify_full", &PgEnv::default(), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOption);
        assert!(e.message.contains("sslmode in the database URL must be one of disable, allow, prefer, require, verify-ca, verify-full, got \"verify_full\""), "{}", e.message);
        let e = tls("postgres://h/x", &env(&[("PGSSLMODE", "on")]), None).unwrap_err();
        assert!(e.message.starts_with("sslmode (from PGSSLMODE) must be one of"), "{}", e.message);
        assert!(!e.message.contains("hunter2"));
    }

    #[test]
    fn verifying_needs_a_root_certificate_as_in_libpq() {
        let home = tempfile::tempdir().unwrap();
        let e = tls("postgres://h/x?sslmode=verify-full", &PgEnv::default(), Some(home.path())).unwrap_err();
        assert!(
            e.message.contains(
                "sslmode=verify-full verifies the server's certificate, but no trusted root certificate was given"
            ),
            "{}",
            e.message
        );
        assert!(e.message.contains("sslrootcert=system"));
        assert!(e.message.contains(&home.path().join(".postgresql/root.crt").display().to_string()));
    }

    #[test]
    fn root_certificates_come_from_the_url_the_environment_or_the_default_file() {
        let dir = files();
        let ca = dir.path().join("ca.crt");
        let url = format!("postgres://h/x?sslmode=verify-full&sslrootcert={}", ca.display());
        assert_eq!(tls(&url, &PgEnv::default(), None).unwrap().root, RootCerts::File(ca.clone()));
        let from_env = env(&[("PGSSLROOTCERT", ca.to_str().unwrap()), ("PGSSLMODE", "verify-ca")]);
        assert_eq!(tls("postgres://h/x", &from_env, None).unwrap().root, RootCerts::File(ca.clone()));

        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".postgresql")).unwrap();
        std::fs::write(home.path().join(".postgresql/root.crt"), CERT).unwrap();
        let t = tls("postgres://h/x?sslmode=require", &PgEnv::default(), Some(home.path())).unwrap();
        assert_eq!(t.root, RootCerts::File(home.path().join(".postgresql/root.crt")));
        assert_eq!(t.effective_mode(), SslMode::VerifyCa, "require with a root file verifies, as in libpq");
        let t = tls("postgres://h/x?sslmode=disable", &PgEnv::default(), Some(home.path())).unwrap();
        assert_eq!(t.root, RootCerts::None);
    }

    #[test]
    fn system_roots_need_verify_full() {
        let t = tls("postgres://h/x?sslmode=verify-full&sslrootcert=system", &PgEnv::default(), None).unwrap();
        assert_eq!(t.root, RootCerts::System);
        let e = tls("postgres://h/x?sslmode=require&sslrootcert=system", &PgEnv::default(), None).unwrap_err();
        assert!(
            e.message.contains("sslrootcert=system needs sslmode=verify-full (got sslmode=require)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn missing_or_wrong_files_name_the_option_and_the_path() {
        let dir = files();
        let missing = dir.path().join("nope.crt");
        let e = tls(
            &format!("postgres://h/x?sslmode=verify-ca&sslrootcert={}", missing.display()),
            &PgEnv::default(),
            None,
        )
        .unwrap_err();
        assert_eq!(e.message, format!("sslrootcert in the database URL: {} does not exist", missing.display()));
        let key = dir.path().join("client.key");
        let e = tls(&format!("postgres://h/x?sslrootcert={}", key.display()), &PgEnv::default(), None).unwrap_err();
        assert!(e.message.ends_with("holds no PEM certificate (-----BEGIN CERTIFICATE-----)"), "{}", e.message);
        let e = tls("postgres://h/x", &env(&[("PGSSLCERT", dir.path().join("client.crt").to_str().unwrap())]), None)
            .unwrap_err();
        assert!(e.message.starts_with("sslcert (from PGSSLCERT) is set but sslkey is not"), "{}", e.message);
        let e = tls(
            &format!("postgres://h/x?sslcert={}&sslkey={}", dir.path().join("client.crt").display(), missing.display()),
            &PgEnv::default(),
            None,
        )
        .unwrap_err();
        assert_eq!(e.message, format!("sslkey in the database URL: {} does not exist", missing.display()));
    }

    #[test]
    fn client_certificates_are_checked_and_encrypted_keys_refused() {
        let dir = files();
        let (cert, key, encrypted) =
            (dir.path().join("client.crt"), dir.path().join("client.key"), dir.path().join("encrypted.key"));
        let url = format!("postgres://h/x?sslmode=require&sslcert={}&sslkey={}", cert.display(), key.display());
        assert_eq!(tls(&url, &PgEnv::default(), None).unwrap().client, Some(ClientCert { cert: cert.clone(), key }));
        let url =
            format!("postgres://h/x?sslcert={}&sslkey={}&sslpassword=secret", cert.display(), encrypted.display());
        let e = tls(&url, &PgEnv::default(), None).unwrap_err();
        assert!(e.message.contains("is encrypted with a passphrase; sslpassword is not supported"), "{}", e.message);
        assert!(!e.message.contains("secret"));
        let url = format!("postgres://h/x?sslmode=disable&sslcert={}", cert.display());
        assert_eq!(tls(&url, &PgEnv::default(), None).unwrap().client, None, "disable sends no certificate");
    }

    #[test]
    fn presented_names_lose_their_wrapping() {
        assert_eq!(presented_name("DnsName(\"db.example.com\")"), "db.example.com");
        assert_eq!(presented_name("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn pools_are_told_apart_by_their_tls_settings() {
        let url = "postgres://u:p@h/x";
        let a = resolve(url, &PgEnv::default(), None).unwrap();
        let b = resolve(url, &env(&[("PGSSLMODE", "require")]), None).unwrap();
        let c = resolve(url, &PgEnv::default(), None).unwrap();
        assert_ne!(a.key, b.key);
        assert_eq!(a.key, c.key);
    }

    #[test]
    fn tls_parameters_leave_the_url_sqlx_reads() {
        let dir = files();
        let url = format!(
            "postgres://u:p@h:6543/x?sslmode=require&application_name=nightly&sslrootcert={}",
            dir.path().join("ca.crt").display()
        );
        let target = resolve(&url, &PgEnv::default(), None).unwrap();
        assert!(matches!(target.options.get_ssl_mode(), PgSslMode::VerifyCa));
        assert_eq!(target.options.get_port(), 6543);
        assert_eq!(target.options.get_application_name(), Some("audience-engine"));
    }
}
