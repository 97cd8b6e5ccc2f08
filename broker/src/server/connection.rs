//! One client connection: read frames, answer them in order, close on protocol errors.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Shared;
use super::handlers;
use super::stats::RequestTimes;
use crate::protocol::{self, FRAME_PREFIX, FrameError, ResponseFrame};
use kafka_protocol::messages::ResponseKind;

/// Frames at least this large are read into their own allocation, so that Produce can hand
/// the records to the log without a copy (see `handlers::produce`).
const OWN_BUFFER_THRESHOLD: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("connection closed in the middle of a frame ({0} bytes buffered)")]
    Truncated(usize),
}

/// Reads the next frame (without its size prefix); `Ok(None)` on a clean end of stream.
async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<BytesMut>, ReadError> {
    loop {
        if let Some(size) = protocol::frame_size(buf, max)? {
            if buf.len() >= FRAME_PREFIX + size {
                buf.advance(FRAME_PREFIX);
                return Ok(Some(buf.split_to(size)));
            }
            if size >= OWN_BUFFER_THRESHOLD {
                buf.advance(FRAME_PREFIX);
                // Not zeroed first: the profile of a 1 MB-batch produce showed the memset.
                let mut frame = BytesMut::with_capacity(size);
                frame.extend_from_slice(buf);
                buf.clear();
                while frame.len() < size {
                    let want = (size - frame.len()) as u64;
                    if (&mut *rd).take(want).read_buf(&mut frame).await? == 0 {
                        return Err(ReadError::Truncated(frame.len()));
                    }
                }
                return Ok(Some(frame));
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(READ_CHUNK);
        }
        if rd.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(ReadError::Truncated(buf.len()))
            };
        }
    }
}

/// Serves one connection until the client closes it, a protocol error, or shutdown.
pub(super) async fn run(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    tracing::debug!(%peer, "connection opened");
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let max = shared.config.max_frame_size;
    let mut times = RequestTimes::default();
    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.changed() => break,
            frame = read_frame(&mut rd, &mut buf, max) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame.freeze(),
            Ok(None) => break,
            Err(ReadError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "connection read failed");
                break;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                break;
            }
        };
        let received = Instant::now();
        let request = match protocol::decode_request(frame) {
            Ok(r) => r,
            Err(e) => match e.response() {
                Some(answer) => {
                    tracing::info!(%peer, error = %e, "answering with the supported versions");
                    if wr.write_all(&answer).await.is_err() {
                        break;
                    }
                    continue;
                }
                None => {
                    tracing::warn!(%peer, error = %e, "closing connection");
                    break;
                }
            },
        };
        let (api_key, version, correlation_id) =
            (request.api_key, request.version(), request.correlation_id());
        let Some(body) = handlers::handle(&shared, request, peer).await else {
            times.record(api_key, received.elapsed());
            continue; // Produce with acks=0: no response
        };
        // Fetch: the records go from the log's read buffers into the socket (vectored write).
        let encoded = match body {
            ResponseKind::Fetch(fetch) => {
                protocol::encode_fetch_response(correlation_id, version, fetch)
            }
            body => protocol::encode_response(correlation_id, api_key, version, &body)
                .map(ResponseFrame::from),
        };
        let mut frame = match encoded {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(%peer, error = %e, "closing connection");
                break;
            }
        };
        if let Err(e) = wr.write_all_buf(&mut frame).await {
            tracing::debug!(%peer, error = %e, "connection write failed");
            break;
        }
        times.record(api_key, received.elapsed());
    }
    let _ = wr.shutdown().await;
    times.log("connection", Some(peer));
    shared.times.add(&times);
    tracing::debug!(%peer, "connection closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::server::testing::*;

    #[tokio::test]
    async fn frames_are_split_and_large_ones_get_their_own_buffer() {
        let mut data = Vec::new();
        data.extend_from_slice(&3i32.to_be_bytes());
        data.extend_from_slice(b"abc");
        let big = vec![7u8; OWN_BUFFER_THRESHOLD + 10];
        data.extend_from_slice(&(big.len() as i32).to_be_bytes());
        data.extend_from_slice(&big);
        data.extend_from_slice(&[0, 0]); // truncated prefix
        let mut rd = &data[..];
        let mut buf = BytesMut::new();
        let f = read_frame(&mut rd, &mut buf, 1 << 20).await.unwrap();
        assert_eq!(&f.unwrap()[..], b"abc");
        let f = read_frame(&mut rd, &mut buf, 1 << 20).await.unwrap();
        assert_eq!(f.unwrap().len(), big.len());
        assert!(matches!(
            read_frame(&mut rd, &mut buf, 1 << 20).await,
            Err(ReadError::Truncated(2))
        ));
        let mut rd = &[0u8, 0, 1, 0][..];
        assert!(matches!(
            read_frame(&mut rd, &mut BytesMut::new(), 10).await,
            Err(ReadError::Frame(FrameError::TooLarge {
                size: 256,
                max: 10
            }))
        ));
    }

    #[tokio::test]
    async fn acks_zero_gets_no_response_and_pipelined_requests_answer_in_order() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        // pipelined: acks=0 produce, acks=1 produce, metadata — two responses, in order
        c.send(
            ApiKey::Produce,
            9,
            &produce("t", 0, 0, batch(2, None, 0)).into(),
        )
        .await;
        let second = c
            .send(
                ApiKey::Produce,
                9,
                &produce("t", 0, 1, batch(1, None, 0)).into(),
            )
            .await;
        let third = c
            .send(ApiKey::Metadata, 12, &MetadataRequest::default().into())
            .await;
        let ResponseKind::Produce(r) = c.recv(ApiKey::Produce, 9, second).await else {
            panic!("a produce response first")
        };
        assert_eq!(produce_result(r), (0, 2));
        assert!(matches!(
            c.recv(ApiKey::Metadata, 12, third).await,
            ResponseKind::Metadata(_)
        ));
        b.shutdown().await;
    }

    #[tokio::test]
    async fn bad_frames_close_only_their_connection() {
        let b = TestBroker::start(4096).await;
        let mut healthy = b.client().await;
        healthy.request(3, ApiVersionsRequest::default()).await;

        // oversized frame
        let mut c = b.client().await;
        c.stream.write_all(&100_000i32.to_be_bytes()).await.unwrap();
        assert!(c.closed().await, "oversized frame closes the connection");
        // negative size
        let mut c = b.client().await;
        c.stream.write_all(&(-5i32).to_be_bytes()).await.unwrap();
        assert!(c.closed().await);
        // unknown API key
        let mut c = b.client().await;
        c.stream
            .write_all(&[0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 1])
            .await
            .unwrap();
        assert!(c.closed().await);
        // garbage body of a known API
        let mut c = b.client().await;
        c.stream
            .write_all(&[0, 0, 0, 12, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x7f])
            .await
            .unwrap();
        assert!(c.closed().await);
        // a too-short frame
        let mut c = b.client().await;
        c.stream.write_all(&[0, 0, 0, 2, 0, 18]).await.unwrap();
        assert!(c.closed().await);
        // disconnect in the middle of a frame
        let mut c = b.client().await;
        c.stream
            .write_all(&[0, 0, 0, 100, 0, 18, 0, 3])
            .await
            .unwrap();
        drop(c);
        // ApiVersions at an unknown version: a v0 answer, and the connection stays usable
        let mut c = b.client().await;
        let id = c
            .send(
                ApiKey::ApiVersions,
                3,
                &ApiVersionsRequest::default().into(),
            )
            .await;
        c.recv(ApiKey::ApiVersions, 3, id).await;
        c.stream
            .write_all(&[0, 0, 0, 10, 0, 18, 0, 77, 0, 0, 0, 9, 0xff, 0xff])
            .await
            .unwrap();
        let ResponseKind::ApiVersions(r) = c.recv(ApiKey::ApiVersions, 0, 9).await else {
            panic!()
        };
        assert_eq!(r.error_code, E::UnsupportedVersion.code());
        c.request(3, ApiVersionsRequest::default()).await;

        // everyone else is still served
        healthy.request(12, MetadataRequest::default()).await;
        b.client()
            .await
            .request(0, ApiVersionsRequest::default())
            .await;
        b.shutdown().await;
    }
}
