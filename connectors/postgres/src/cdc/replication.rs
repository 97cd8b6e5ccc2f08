//! A logical replication connection, spoken directly: `sqlx` has no streaming replication
//! (CopyBoth) support, so this module opens its own connection with `replication=database`
//! and uses the `postgres-protocol` crate for framing and authentication (cleartext, MD5,
//! SCRAM-SHA-256).
//!
//! Commands are simple queries (`IDENTIFY_SYSTEM`, `CREATE_REPLICATION_SLOT ... LOGICAL
//! pgoutput EXPORT_SNAPSHOT`, `START_REPLICATION SLOT ... LOGICAL ...`). Once streaming, the
//! server sends CopyData messages holding XLogData (`w`: WAL start and end, send time, one
//! pgoutput message) or primary keepalives (`k`: WAL end, send time, reply requested); the
//! client answers with standby status updates (`r`: written, flushed and applied LSNs),
//! whose flushed LSN is what the slot's `confirmed_flush_lsn` becomes.

use std::fmt;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{self, ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connection::Endpoint;
use crate::error::Error;

/// A WAL position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Lsn(pub(crate) u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

impl Lsn {
    /// Parses `16/B374D848`.
    pub(crate) fn parse(text: &str) -> Option<Lsn> {
        let (hi, lo) = text.trim().split_once('/')?;
        Some(Lsn(
            (u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?
        ))
    }
}

/// An error the server sent: SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerError {
    pub(crate) code: String,
    pub(crate) message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLSTATE {})", self.message, self.code)
    }
}

/// Errors of the replication connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplicationError {
    /// The network failed or the server went away (worth reconnecting).
    #[error("replication connection to {endpoint}: {source}")]
    Io {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    /// The server refused a command.
    #[error("{0}")]
    Server(ServerError),
    /// The server said something this client does not understand.
    #[error("replication protocol: {0}")]
    Protocol(String),
}

impl ReplicationError {
    /// Whether reconnecting may help (the network or a restarting server).
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            ReplicationError::Io { .. } => true,
            ReplicationError::Server(e) => {
                e.code.starts_with("08")
                    || matches!(e.code.as_str(), "57P01" | "57P02" | "57P03" | "53300")
            }
            ReplicationError::Protocol(_) => false,
        }
    }

    /// The server's SQLSTATE, if it sent one.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            ReplicationError::Server(e) => Some(&e.code),
            _ => None,
        }
    }
}

impl From<ReplicationError> for Error {
    fn from(e: ReplicationError) -> Error {
        Error::Replication(e.to_string())
    }
}

type RResult<T> = std::result::Result<T, ReplicationError>;

/// What arrives while streaming.
#[derive(Debug)]
pub(crate) enum Event {
    /// One pgoutput message at `start`.
    Data { start: Lsn, end: Lsn, data: Bytes },
    /// The server's position; answer soon when `reply` is set.
    Keepalive { end: Lsn, reply: bool },
}

/// Microseconds since 2000-01-01 (the protocol's clock).
fn pg_now() -> i64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    unix - crate::types::calendar::PG_EPOCH_MICROS
}

/// A connection in replication mode.
pub(crate) struct ReplicationConnection {
    stream: TcpStream,
    read: BytesMut,
    write: BytesMut,
    endpoint: String,
    /// `server_version_num`-like: e.g. 150004.
    pub(crate) server_version: u32,
}

impl fmt::Debug for ReplicationConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationConnection")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl ReplicationConnection {
    /// Connects and authenticates with `replication=database`.
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        application: &str,
    ) -> RResult<ReplicationConnection> {
        let shown = endpoint.to_string();
        let io = |source| ReplicationError::Io {
            endpoint: shown.clone(),
            source,
        };
        let stream = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        let mut conn = ReplicationConnection {
            stream,
            read: BytesMut::with_capacity(64 * 1024),
            write: BytesMut::with_capacity(1024),
            endpoint: shown.clone(),
            server_version: 0,
        };
        let params = [
            ("user", endpoint.user.as_str()),
            ("database", endpoint.database.as_str()),
            ("replication", "database"),
            ("application_name", application),
            ("client_encoding", "UTF8"),
            // One text form per type for the pgoutput decoder (see types::text).
            ("DateStyle", "ISO"),
            ("TimeZone", "UTC"),
            ("IntervalStyle", "iso_8601"),
            ("bytea_output", "hex"),
            ("extra_float_digits", "3"),
        ];
        frontend::startup_message(params, &mut conn.write).map_err(io)?;
        conn.flush().await?;
        conn.authenticate(endpoint).await?;
        Ok(conn)
    }

    async fn flush(&mut self) -> RResult<()> {
        let shown = self.endpoint.clone();
        self.stream
            .write_all(&self.write)
            .await
            .map_err(|source| ReplicationError::Io {
                endpoint: shown,
                source,
            })?;
        self.write.clear();
        Ok(())
    }

    /// Reads one message: its tag and body.
    async fn message(&mut self) -> RResult<(u8, Bytes)> {
        loop {
            if self.read.len() >= 5 {
                let len =
                    u32::from_be_bytes([self.read[1], self.read[2], self.read[3], self.read[4]])
                        as usize;
                if len < 4 {
                    return Err(ReplicationError::Protocol(format!("message length {len}")));
                }
                if self.read.len() > len {
                    let tag = self.read[0];
                    self.read.advance(5);
                    let body = self.read.split_to(len - 4).freeze();
                    return Ok((tag, body));
                }
                self.read.reserve(len + 1 - self.read.len());
            } else {
                self.read.reserve(8 * 1024);
            }
            let n = self
                .stream
                .read_buf(&mut self.read)
                .await
                .map_err(|source| ReplicationError::Io {
                    endpoint: self.endpoint.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(ReplicationError::Io {
                    endpoint: self.endpoint.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ),
                });
            }
        }
    }

    async fn authenticate(&mut self, endpoint: &Endpoint) -> RResult<()> {
        let password = endpoint.password.clone().unwrap_or_default();
        let io = |e: std::io::Error| ReplicationError::Protocol(e.to_string());
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, mut body) = self.message().await?;
            match tag {
                b'R' => {
                    let kind = body.get_i32();
                    match kind {
                        0 => {}
                        3 => {
                            frontend::password_message(password.as_bytes(), &mut self.write)
                                .map_err(io)?;
                            self.flush().await?;
                        }
                        5 => {
                            let mut salt = [0u8; 4];
                            body.copy_to_slice(&mut salt);
                            let hash =
                                md5_hash(endpoint.user.as_bytes(), password.as_bytes(), salt);
                            frontend::password_message(hash.as_bytes(), &mut self.write)
                                .map_err(io)?;
                            self.flush().await?;
                        }
                        10 => {
                            let mechanisms: Vec<&[u8]> = body.split(|b| *b == 0).collect();
                            if !mechanisms.contains(&sasl::SCRAM_SHA_256.as_bytes()) {
                                return Err(ReplicationError::Protocol(
                                    "the server offers no SASL mechanism this client supports"
                                        .into(),
                                ));
                            }
                            let s = ScramSha256::new(
                                password.as_bytes(),
                                ChannelBinding::unsupported(),
                            );
                            frontend::sasl_initial_response(
                                sasl::SCRAM_SHA_256,
                                s.message(),
                                &mut self.write,
                            )
                            .map_err(io)?;
                            self.flush().await?;
                            scram = Some(s);
                        }
                        11 => {
                            let s = scram.as_mut().ok_or_else(|| {
                                ReplicationError::Protocol("SASL continue before start".into())
                            })?;
                            s.update(&body).map_err(io)?;
                            frontend::sasl_response(s.message(), &mut self.write).map_err(io)?;
                            self.flush().await?;
                        }
                        12 => {
                            let s = scram.as_mut().ok_or_else(|| {
                                ReplicationError::Protocol("SASL final before start".into())
                            })?;
                            s.finish(&body).map_err(io)?;
                        }
                        other => {
                            return Err(ReplicationError::Protocol(format!(
                                "unsupported authentication method {other}"
                            )));
                        }
                    }
                }
                b'S' => {
                    let mut parts = body.split(|b| *b == 0);
                    if parts.next() == Some(b"server_version") {
                        let v = parts
                            .next()
                            .map(String::from_utf8_lossy)
                            .unwrap_or_default();
                        self.server_version = version_number(&v);
                    }
                }
                b'K' | b'N' => {}
                b'Z' => return Ok(()),
                b'E' => return Err(ReplicationError::Server(server_error(&body))),
                other => {
                    return Err(ReplicationError::Protocol(format!(
                        "unexpected message '{}' during startup",
                        other as char
                    )));
                }
            }
        }
    }

    /// Runs a simple query; returns the rows as text.
    pub(crate) async fn simple_query(&mut self, sql: &str) -> RResult<Vec<Vec<Option<String>>>> {
        frontend::query(sql, &mut self.write)
            .map_err(|e| ReplicationError::Protocol(e.to_string()))?;
        self.flush().await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let (tag, mut body) = self.message().await?;
            match tag {
                b'D' => {
                    let n = body.get_i16();
                    let mut row = Vec::with_capacity(n.max(0) as usize);
                    for _ in 0..n {
                        let len = body.get_i32();
                        if len < 0 {
                            row.push(None);
                        } else {
                            let v = body.split_to(len as usize);
                            row.push(Some(String::from_utf8_lossy(&v).into_owned()));
                        }
                    }
                    rows.push(row);
                }
                b'E' => error = Some(server_error(&body)),
                b'Z' => {
                    return match error {
                        Some(e) => Err(ReplicationError::Server(e)),
                        None => Ok(rows),
                    };
                }
                _ => {}
            }
        }
    }

    /// Creates a logical slot with pgoutput, exporting its snapshot; returns the
    /// consistent point and the snapshot name. The snapshot stays usable until the next
    /// command on this connection.
    pub(crate) async fn create_slot(
        &mut self,
        slot: &str,
        export: bool,
    ) -> RResult<(Lsn, Option<String>)> {
        let sql = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {}",
            crate::catalog::quote_ident(slot),
            if export {
                "EXPORT_SNAPSHOT"
            } else {
                "NOEXPORT_SNAPSHOT"
            }
        );
        let rows = self.simple_query(&sql).await?;
        let row = rows.first().ok_or_else(|| {
            ReplicationError::Protocol("CREATE_REPLICATION_SLOT returned nothing".into())
        })?;
        let lsn = row
            .get(1)
            .cloned()
            .flatten()
            .and_then(|s| Lsn::parse(&s))
            .ok_or_else(|| ReplicationError::Protocol("no consistent point".into()))?;
        Ok((lsn, row.get(2).cloned().flatten()))
    }

    /// Starts streaming from `start` (or the slot's confirmed position, if later).
    pub(crate) async fn start(&mut self, slot: &str, start: Lsn, publication: &str) -> RResult<()> {
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {start} (proto_version '1', publication_names {})",
            crate::catalog::quote_ident(slot),
            crate::catalog::quote_literal(&crate::catalog::quote_ident(publication))
        );
        frontend::query(&sql, &mut self.write)
            .map_err(|e| ReplicationError::Protocol(e.to_string()))?;
        self.flush().await?;
        loop {
            let (tag, body) = self.message().await?;
            match tag {
                b'W' => return Ok(()),
                b'E' => return Err(ReplicationError::Server(server_error(&body))),
                b'N' => {}
                other => {
                    return Err(ReplicationError::Protocol(format!(
                        "unexpected message '{}' after START_REPLICATION",
                        other as char
                    )));
                }
            }
        }
    }

    /// The next streamed event; `None` if nothing came within `wait`.
    pub(crate) async fn next(&mut self, wait: Duration) -> RResult<Option<Event>> {
        let message = match tokio::time::timeout(wait, self.message()).await {
            Err(_) => return Ok(None),
            Ok(m) => m?,
        };
        let (tag, mut body) = message;
        match tag {
            b'd' if !body.is_empty() => match body.get_u8() {
                b'w' if body.remaining() >= 24 => {
                    let start = Lsn(body.get_u64());
                    let end = Lsn(body.get_u64());
                    let _send_time = body.get_i64();
                    Ok(Some(Event::Data {
                        start,
                        end,
                        data: body,
                    }))
                }
                b'k' if body.remaining() >= 17 => {
                    let end = Lsn(body.get_u64());
                    let _send_time = body.get_i64();
                    Ok(Some(Event::Keepalive {
                        end,
                        reply: body.get_u8() != 0,
                    }))
                }
                other => Err(ReplicationError::Protocol(format!(
                    "unknown replication message '{}'",
                    other as char
                ))),
            },
            b'E' => Err(ReplicationError::Server(server_error(&body))),
            b'c' => Err(ReplicationError::Protocol(
                "the server ended the replication stream".into(),
            )),
            b'N' => Ok(None),
            other => Err(ReplicationError::Protocol(format!(
                "unexpected message '{}' while streaming",
                other as char
            ))),
        }
    }

    /// Sends a standby status update: everything up to `flushed` is durable downstream.
    pub(crate) async fn status(&mut self, written: Lsn, flushed: Lsn, reply: bool) -> RResult<()> {
        let mut body = BytesMut::with_capacity(34);
        body.put_u8(b'r');
        body.put_u64(written.0);
        body.put_u64(flushed.0);
        body.put_u64(flushed.0);
        body.put_i64(pg_now());
        body.put_u8(u8::from(reply));
        self.write.put_u8(b'd');
        self.write.put_i32(4 + body.len() as i32);
        self.write.put_slice(&body);
        self.flush().await
    }
}

/// `15.4 (Debian ...)` → 150004.
fn version_number(text: &str) -> u32 {
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    major * 10_000 + minor
}

fn server_error(body: &[u8]) -> ServerError {
    let mut code = String::new();
    let mut message = String::new();
    for field in body.split(|b| *b == 0) {
        if let Some((&kind, value)) = field.split_first() {
            let value = String::from_utf8_lossy(value).into_owned();
            match kind {
                b'C' => code = value,
                b'M' => message = value,
                _ => {}
            }
        }
    }
    ServerError { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text() {
        let lsn = Lsn::parse("16/B374D848").unwrap();
        assert_eq!(lsn.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("0/0"), Some(Lsn(0)));
        assert_eq!(Lsn::parse("x"), None);
        assert_eq!(version_number("15.4 (Debian 15.4-1)"), 150_004);
    }
}
