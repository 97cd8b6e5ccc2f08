//! The S3 client: one bucket, objects uploaded in parts.
//!
//! An object smaller than one part is written with a single `PutObject`; a bigger one as a
//! multipart upload whose parts are sent as soon as they are full (in the background, in the
//! task's upload slots: see `slots` for the memory this bounds). Over https
//! bodies are sent as `UNSIGNED-PAYLOAD` (TLS guards them); over http they are signed.
//! Requests are retried by the SDK's standard retry policy
//! (`s3.part.retries`, exponential backoff from `s3.retry.backoff.ms`) when they fail
//! transiently: HTTP 500/503, throttling, timeouts, broken connections. What fails after
//! that is a [`StorageError`] that says whether trying again later may help.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ObjectCannedAcl, ServerSideEncryption, Tag, Tagging,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use bytes::Bytes;

use crate::config::StorageConfig;

/// Why an S3 request failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct StorageError {
    /// Whether the same request may succeed later (5xx, throttling, timeouts, connection
    /// errors), once the client's own retries are used up.
    pub(crate) transient: bool,
    pub(crate) message: String,
}

fn classify<E>(what: &str, err: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (transient, detail) = match &err {
        SdkError::ServiceError(service) => {
            let status = service_status(&err);
            let e = service.err();
            let code = e.code().unwrap_or("");
            let transient = status.is_some_and(|s| s >= 500 || s == 429)
                || matches!(
                    code,
                    "SlowDown"
                        | "InternalError"
                        | "ServiceUnavailable"
                        | "RequestTimeout"
                        | "Throttling"
                        | "ThrottlingException"
                        | "RequestTimeTooSkewed"
                );
            let mut detail = String::new();
            if !code.is_empty() {
                detail.push_str(code);
            }
            if let Some(m) = e.message() {
                if !detail.is_empty() {
                    detail.push_str(": ");
                }
                detail.push_str(m);
            }
            if detail.is_empty() {
                detail = aws_sdk_s3::error::DisplayErrorContext(&err).to_string();
            }
            if let Some(s) = status {
                detail.push_str(&format!(" (HTTP {s})"));
            }
            (transient, detail)
        }
        SdkError::TimeoutError(_) => (true, "timed out".to_string()),
        SdkError::DispatchFailure(d) => (
            !d.is_user(),
            format!("could not send the request: {}", error_chain(&err)),
        ),
        SdkError::ResponseError(_) => (true, format!("bad response: {}", error_chain(&err))),
        _ => (false, error_chain(&err)),
    };
    StorageError {
        transient,
        message: format!("{what}: {detail}"),
    }
}

fn service_status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The store: a client and the bucket.
#[derive(Debug, Clone)]
pub(crate) struct Storage {
    client: Client,
    bucket: String,
    sse: Option<ServerSideEncryption>,
    sse_kms_key_id: Option<String>,
    acl: Option<ObjectCannedAcl>,
    /// Send object and part bodies as `UNSIGNED-PAYLOAD` (no SHA-256 over every byte): only
    /// over https, whose TLS already guards the bytes, as botocore does.
    unsigned_payload: bool,
}

impl Storage {
    /// A client for `config` (no request is sent yet).
    pub(crate) async fn new(config: &StorageConfig) -> Storage {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let retry = RetryConfig::standard()
            .with_max_attempts(config.retries + 1)
            .with_initial_backoff(config.retry_backoff.max(Duration::from_millis(1)))
            .with_max_backoff(Duration::from_secs(20));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(120))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .http_client(http)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some((access, secret)) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                access.clone(),
                secret.clone(),
                None,
                None,
                "s3-sink-config",
            ));
        }
        let shared = loader.load().await;
        let mut s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.path_style)
            // Checksums only where S3 requires them: S3-compatible stores differ in their
            // support of the newer trailing checksums, and the part bodies are small enough
            // for the transport's own integrity checks.
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            );
        if let Some(url) = &config.endpoint {
            s3 = s3.endpoint_url(url.trim_end_matches('/'));
        }
        Storage {
            client: Client::from_conf(s3.build()),
            bucket: config.bucket.clone(),
            sse: config.sse.as_deref().map(ServerSideEncryption::from),
            sse_kms_key_id: config.sse_kms_key_id.clone(),
            acl: config.acl.as_deref().map(ObjectCannedAcl::from),
            unsigned_payload: config
                .endpoint
                .as_deref()
                .is_none_or(|url| url.trim().to_ascii_lowercase().starts_with("https://")),
        }
    }

    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Checks that the bucket exists and may be written: a missing bucket or missing rights
    /// are reported with what to fix.
    pub(crate) async fn check_bucket(&self) -> Result<(), StorageError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let status = service_status(&err);
                let mut e = classify(&format!("checking S3 bucket {}", self.bucket), err);
                match status {
                    Some(404) => {
                        e.message = format!("Non-existent S3 bucket: {}", self.bucket);
                        e.transient = false;
                    }
                    Some(403) => {
                        e.message = format!(
                            "Access denied to S3 bucket {} (HTTP 403): check the credentials and the bucket policy",
                            self.bucket
                        );
                        e.transient = false;
                    }
                    _ => {}
                }
                Err(e)
            }
        }
    }

    /// Writes a whole object in one request.
    pub(crate) async fn put_object(&self, key: &str, body: Bytes) -> Result<(), StorageError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(body.len() as i64)
            .body(ByteStream::from(body));
        if let Some(sse) = &self.sse {
            req = req.server_side_encryption(sse.clone());
        }
        if let Some(kms) = &self.sse_kms_key_id {
            req = req.ssekms_key_id(kms);
        }
        if let Some(acl) = &self.acl {
            req = req.acl(acl.clone());
        }
        let sent = if self.unsigned_payload {
            req.customize().disable_payload_signing().send().await
        } else {
            req.send().await
        };
        sent.map(|_| ())
            .map_err(|e| classify(&format!("writing s3://{}/{key}", self.bucket), e))
    }

    /// Starts a multipart upload; returns its id.
    pub(crate) async fn create_upload(&self, key: &str) -> Result<String, StorageError> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key);
        if let Some(sse) = &self.sse {
            req = req.server_side_encryption(sse.clone());
        }
        if let Some(kms) = &self.sse_kms_key_id {
            req = req.ssekms_key_id(kms);
        }
        if let Some(acl) = &self.acl {
            req = req.acl(acl.clone());
        }
        let out = req.send().await.map_err(|e| {
            classify(
                &format!("starting the upload of s3://{}/{key}", self.bucket),
                e,
            )
        })?;
        out.upload_id()
            .map(str::to_string)
            .ok_or_else(|| StorageError {
                transient: true,
                message: format!(
                    "starting the upload of s3://{}/{key}: the store sent no upload id",
                    self.bucket
                ),
            })
    }

    /// Uploads part `number` (from 1); returns its ETag.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<CompletedPart, StorageError> {
        let req = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(body.len() as i64)
            .body(ByteStream::from(body));
        let sent = if self.unsigned_payload {
            req.customize().disable_payload_signing().send().await
        } else {
            req.send().await
        };
        let out = sent.map_err(|e| {
            classify(
                &format!("uploading part {number} of s3://{}/{key}", self.bucket),
                e,
            )
        })?;
        Ok(CompletedPart::builder()
            .set_e_tag(out.e_tag().map(str::to_string))
            .part_number(number)
            .build())
    }

    /// Completes a multipart upload: the object appears, whole.
    pub(crate) async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<(), StorageError> {
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // S3 reports a failed completion as 200 with an <Error> body, which the SDK turns
            // into an error with a code. A 200 whose body is something else is a completed
            // upload from a store that names the result element differently (moto answers
            // <CompleteMultipartUploadResponse>), which the SDK refuses to parse.
            Err(SdkError::ServiceError(e))
                if e.raw().status().as_u16() == 200 && e.err().code().is_none() =>
            {
                tracing::debug!(key, "upload completed (result body not understood)");
                Ok(())
            }
            Err(e) => Err(classify(
                &format!("completing the upload of s3://{}/{key}", self.bucket),
                e,
            )),
        }
    }

    /// Abandons a multipart upload (best effort: a failure is logged, the store's lifecycle
    /// rules clean up what remains).
    pub(crate) async fn abort_upload(&self, key: &str, upload_id: &str) {
        if let Err(e) = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            let e = classify(
                &format!("aborting the upload of s3://{}/{key}", self.bucket),
                e,
            );
            tracing::warn!(error = %e, "multipart upload not aborted");
        }
    }

    /// Sets an object's tags.
    pub(crate) async fn tag(
        &self,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), StorageError> {
        let tag_set = tags
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| StorageError {
                transient: false,
                message: format!("tagging s3://{}/{key}: {e}", self.bucket),
            })?;
        self.client
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&format!("tagging s3://{}/{key}", self.bucket), e))
    }
}
