//! One connection to one broker: requests are pipelined, and responses (which Kafka sends
//! in request order on a connection) are matched to them by correlation id.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::KafkaError;

/// Largest response frame accepted (a fetch of many partitions can be large).
const MAX_FRAME: usize = 256 << 20;
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Pending = oneshot::Sender<Result<Bytes, KafkaError>>;

/// A connection to a broker, usable concurrently from many tasks.
#[derive(Debug)]
pub(crate) struct Connection {
    addr: String,
    client_id: StrBytes,
    next_id: AtomicI32,
    outgoing: mpsc::Sender<(Bytes, i32, Pending)>,
    closed: Arc<AtomicBool>,
    /// Broker's supported version range per API key.
    versions: HashMap<i16, (i16, i16)>,
}

impl Connection {
    /// Connects and negotiates API versions.
    pub(crate) async fn open(addr: &str, client_id: &str) -> Result<Connection, KafkaError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| KafkaError::Connect {
                addr: addr.to_string(),
                cause: "timed out".into(),
            })?
            .map_err(|e| KafkaError::Connect {
                addr: addr.to_string(),
                cause: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::channel(256);
        let (pending_tx, pending_rx) = mpsc::unbounded_channel();
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(write_loop(write, rx, pending_tx, closed.clone()));
        tokio::spawn(read_loop(
            read,
            pending_rx,
            addr.to_string(),
            closed.clone(),
        ));
        let mut conn = Connection {
            addr: addr.to_string(),
            client_id: StrBytes::from_string(client_id.to_string()),
            next_id: AtomicI32::new(1),
            outgoing: tx,
            closed,
            versions: HashMap::new(),
        };
        conn.versions = conn.negotiate().await?;
        Ok(conn)
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    async fn negotiate(&self) -> Result<HashMap<i16, (i16, i16)>, KafkaError> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("ferry"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        // v3 first; a broker that does not know it answers UNSUPPORTED_VERSION in v0 form.
        let response: ApiVersionsResponse = match self.send_version(request.clone(), 3).await {
            Ok(r) if r.error_code == 0 => r,
            _ => self.send_version(request, 0).await?,
        };
        if response.error_code != 0 {
            return Err(KafkaError::Broker {
                what: format!("ApiVersions from {}", self.addr),
                code: response.error_code,
            });
        }
        Ok(response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect())
    }

    /// The highest version of `R` both sides support, capped at `cap` (the newest version
    /// this client's code was written for).
    pub(crate) fn version<R: Request>(&self, cap: i16) -> Result<i16, KafkaError> {
        let (broker_min, broker_max) =
            self.versions
                .get(&R::KEY)
                .copied()
                .ok_or_else(|| KafkaError::Unsupported {
                    addr: self.addr.clone(),
                    api: R::KEY,
                })?;
        let max = broker_max.min(R::VERSIONS.max).min(cap);
        let min = broker_min.max(R::VERSIONS.min);
        if max < min {
            return Err(KafkaError::Unsupported {
                addr: self.addr.clone(),
                api: R::KEY,
            });
        }
        Ok(max)
    }

    /// Sends `request` at the best common version (up to `cap`) and waits for its response.
    pub(crate) async fn send<R: Request>(
        &self,
        request: R,
        cap: i16,
    ) -> Result<(R::Response, i16), KafkaError> {
        let version = self.version::<R>(cap)?;
        Ok((self.send_version(request, version).await?, version))
    }

    pub(crate) async fn send_version<R: Request>(
        &self,
        request: R,
        version: i16,
    ) -> Result<R::Response, KafkaError> {
        if self.is_closed() {
            return Err(KafkaError::Disconnected(self.addr.clone()));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(self.client_id.clone()));
        let header_version = R::header_version(version);
        let encode =
            |e: anyhow::Error| KafkaError::Codec(format!("encoding request {}: {e}", R::KEY));
        let size = header.compute_size(header_version).map_err(encode)?
            + request.compute_size(version).map_err(encode)?;
        let mut buf = BytesMut::with_capacity(4 + size);
        buf.put_i32(size as i32);
        header.encode(&mut buf, header_version).map_err(encode)?;
        request.encode(&mut buf, version).map_err(encode)?;
        let (reply, rx) = oneshot::channel();
        self.outgoing
            .send((buf.freeze(), id, reply))
            .await
            .map_err(|_| KafkaError::Disconnected(self.addr.clone()))?;
        let mut body = rx
            .await
            .map_err(|_| KafkaError::Disconnected(self.addr.clone()))??;
        let decode = |e: anyhow::Error| {
            KafkaError::Codec(format!(
                "decoding response to request {} v{version}: {e}",
                R::KEY
            ))
        };
        let response_header =
            ResponseHeader::decode(&mut body, R::Response::header_version(version))
                .map_err(decode)?;
        if response_header.correlation_id != id {
            return Err(KafkaError::Codec(format!(
                "response correlation id {} does not match request {id}",
                response_header.correlation_id
            )));
        }
        R::Response::decode(&mut body, version).map_err(decode)
    }
}

async fn write_loop(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<(Bytes, i32, Pending)>,
    pending: mpsc::UnboundedSender<(i32, Pending)>,
    closed: Arc<AtomicBool>,
) {
    while let Some((frame, id, reply)) = rx.recv().await {
        // Register before writing: the response may come back before write_all returns.
        if pending.send((id, reply)).is_err() {
            break;
        }
        if let Err(e) = write.write_all(&frame).await {
            tracing::debug!(error = %e, "broker connection write failed");
            break;
        }
    }
    closed.store(true, Ordering::Release);
}

async fn read_loop(
    mut read: tokio::net::tcp::OwnedReadHalf,
    mut pending: mpsc::UnboundedReceiver<(i32, Pending)>,
    addr: String,
    closed: Arc<AtomicBool>,
) {
    let result: Result<(), KafkaError> = async {
        loop {
            let mut len = [0u8; 4];
            read.read_exact(&mut len)
                .await
                .map_err(|_| KafkaError::Disconnected(addr.clone()))?;
            let len = i32::from_be_bytes(len);
            let len = usize::try_from(len)
                .ok()
                .filter(|l| (4..=MAX_FRAME).contains(l))
                .ok_or_else(|| {
                    KafkaError::Codec(format!("bad response frame size {len} from {addr}"))
                })?;
            let mut body = BytesMut::zeroed(len);
            read.read_exact(&mut body)
                .await
                .map_err(|_| KafkaError::Disconnected(addr.clone()))?;
            let body = body.freeze();
            let id = (&body[..4]).get_i32();
            let Some((expected, reply)) = pending.recv().await else {
                return Ok(());
            };
            if expected != id {
                let _ = reply.send(Err(KafkaError::Codec(format!(
                    "response {id} from {addr} arrived where {expected} was expected"
                ))));
                return Err(KafkaError::Codec("responses out of order".into()));
            }
            let _ = reply.send(Ok(body));
        }
    }
    .await;
    closed.store(true, Ordering::Release);
    let error = result
        .err()
        .unwrap_or_else(|| KafkaError::Disconnected(addr.clone()));
    pending.close();
    while let Ok((_, reply)) = pending.try_recv() {
        let _ = reply.send(Err(error.clone()));
    }
}
