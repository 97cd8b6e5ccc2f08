//! Where the database is: `connection.url` in its JDBC form (`jdbc:postgresql://host:port/db?user=..`)
//! or as a libpq URL (`postgres://user:password@host:port/db`), or Debezium's
//! `database.hostname` / `database.port` / `database.dbname` keys; and connecting with the
//! connectors' retry budget (`connection.attempts`, `connection.backoff.ms`).

use std::fmt;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::error::{Error, Result};

/// A database address and credentials. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User.
    pub user: String,
    /// Password, if any.
    pub password: Option<String>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (
                (bytes[i + 1] as char).to_digit(16),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Endpoint {
    /// Parses `connection.url`; `user` / `password` (from `connection.user` /
    /// `connection.password`) win over the URL's.
    pub fn parse_url(url: &str, user: Option<&str>, password: Option<&str>) -> Result<Endpoint> {
        let shown = redact(url);
        let bad = |reason: &str| Error::Url {
            url: shown.clone(),
            reason: reason.to_string(),
        };
        let rest = url
            .trim()
            .strip_prefix("jdbc:postgresql://")
            .or_else(|| url.trim().strip_prefix("postgresql://"))
            .or_else(|| url.trim().strip_prefix("postgres://"))
            .ok_or_else(|| {
                bad("expected jdbc:postgresql://host:port/database or postgres://user@host:port/database")
            })?;
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = before_query.split_once('/').unwrap_or((before_query, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (mut url_user, mut url_password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((name, pw)) => (Some(percent_decode(name)), Some(percent_decode(pw))),
                None => (Some(percent_decode(u)), None),
            },
            None => (None, None),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "user" => url_user = Some(percent_decode(v)),
                "password" => url_password = Some(percent_decode(v)),
                "sslmode" | "ssl" if !matches!(v, "disable" | "false" | "allow" | "prefer") => {
                    return Err(bad(&format!(
                        "{k}={v}: this build of Ferry connects without TLS"
                    )));
                }
                _ => {}
            }
        }
        // A first host only: multi-host failover URLs are not supported.
        let hostport = hostport.split(',').next().unwrap_or("");
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| bad("unclosed [ in host"))?;
                (h.to_string(), after.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            },
        };
        let port = match port {
            Some(p) if !p.is_empty() => p.parse().map_err(|_| bad("the port is not a number"))?,
            _ => 5432,
        };
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        let user = user
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .or(url_user)
            .unwrap_or_else(|| "postgres".to_string());
        let password = password
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .or(url_password);
        Ok(Endpoint {
            host,
            port,
            database: if database.is_empty() {
                user.clone()
            } else {
                percent_decode(database)
            },
            user,
            password,
        })
    }

    /// The driver's options for this endpoint.
    pub(crate) fn options(&self, application: &str) -> PgConnectOptions {
        let mut options = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(&self.database)
            .application_name(application)
            .disable_statement_logging();
        if let Some(pw) = &self.password {
            options = options.password(pw);
        }
        options
    }

    /// Opens one connection, trying `retry.attempts` times with `retry.backoff` between
    /// tries when the failure is transient; the error names the endpoint and the cause.
    pub(crate) async fn connect(&self, application: &str, retry: Retry) -> Result<PgConnection> {
        let options = self.options(application);
        let mut attempt = 1;
        loop {
            match PgConnection::connect_with(&options).await {
                Ok(conn) => return Ok(conn),
                Err(e) if crate::error::is_transient(&e) && attempt < retry.attempts => {
                    tracing::warn!(endpoint = %self, attempt, of = retry.attempts, error = %e,
                        backoff_ms = retry.backoff.as_millis() as u64, "connecting to postgres failed; retrying");
                    tokio::time::sleep(retry.backoff).await;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Error::db(
                        format!("connecting to {self} failed after {attempt} attempt(s)"),
                        e,
                    ));
                }
            }
        }
    }
}

/// A retry budget: how many attempts, and the pause between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
}

impl Retry {
    /// A single attempt, for callers that retry in their own loop.
    pub(crate) const ONCE: Retry = Retry {
        attempts: 1,
        backoff: Duration::ZERO,
    };
}

/// A URL with its password removed, for messages.
pub(crate) fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let after = scheme_end + 3;
        let authority_end = out[after..]
            .find(['/', '?'])
            .map_or(out.len(), |i| after + i);
        if let Some(at) = out[after..authority_end].rfind('@') {
            let userinfo = &out[after..after + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(after + colon + 1..after + at, "[hidden]");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some(("password", _)) => "password=[hidden]".to_string(),
                _ => p.to_string(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_and_libpq_urls() {
        let e = Endpoint::parse_url(
            "jdbc:postgresql://db.example:6543/sales?user=alice&password=s%40cret&ApplicationName=x",
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.database.as_str()),
            ("db.example", 6543, "sales")
        );
        assert_eq!(e.user, "alice");
        assert_eq!(e.password.as_deref(), Some("s@cret"));
        assert!(!format!("{e:?}").contains("cret"));

        let e =
            Endpoint::parse_url("postgres://bob:pw@127.0.0.1/test", Some("carol"), None).unwrap();
        assert_eq!((e.user.as_str(), e.port), ("carol", 5432));
        assert_eq!(e.password.as_deref(), Some("pw"));

        let e = Endpoint::parse_url("jdbc:postgresql://[::1]:5433/", None, None).unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.database.as_str()),
            ("::1", 5433, "postgres")
        );

        let err = Endpoint::parse_url("jdbc:mysql://x/y?password=zzz", None, None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("password=[hidden]") && !text.contains("zzz"),
            "{text}"
        );
        assert!(Endpoint::parse_url("postgres://h:nope/db", None, None).is_err());
        assert!(Endpoint::parse_url("postgres://h/db?sslmode=require", None, None).is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h/db"),
            "postgres://u:[hidden]@h/db"
        );
        assert_eq!(
            redact("jdbc:postgresql://h/db?user=u&password=p"),
            "jdbc:postgresql://h/db?user=u&password=[hidden]"
        );
    }
}
