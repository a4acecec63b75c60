//! Prometheus as the source of GPU samples (`serve --prometheus-url`): its HTTP API's instant
//! query, asked for exactly the series the pages read, and its range query for the charts, over
//! HTTP or HTTPS (a CA file, or the system's roots) with an optional bearer token read from a
//! file at most once a minute, as client-go reads a service account's (and again at once after
//! a 401 or 403), so a rotated token is picked up. Answers are bounded in time and size, and an error says which part failed without
//! the token.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::dcgm::SeriesLabels;
use super::shortened;
use super::str_seed::StrAs;

/// The most bytes one answer may have: about 700,000 samples with dcgm-exporter's labels.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;
/// The most bytes of a refusal (an answer that is not 200) that are read, for its reason.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;
/// The largest bearer token file that is read.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;
/// How long a token read from its file is used before the file is read again: a projected
/// service account token is rotated long before it expires (client-go's period too).
const TOKEN_REREAD_PERIOD: Duration = Duration::from_secs(60);

/// Where Prometheus answers and how to reach it (`serve` flags).
#[derive(Debug, Clone)]
pub struct PrometheusSettings {
    /// Its base URL, `http://` or `https://`, without `/api/v1`.
    pub url: Uri,
    /// A file holding the bearer token to send; re-read at most once a minute.
    pub token_file: Option<PathBuf>,
    /// A PEM file of the certificates that sign its serving certificate; the system's roots
    /// when none is given.
    pub ca_file: Option<PathBuf>,
}

/// Why Prometheus could not be asked, or its answer not used. The text never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrometheusError {
    #[error("no answer within {ms} ms (if it is slow rather than down, raise --telemetry-timeout)")]
    Timeout { ms: u64 },
    #[error("cannot connect (is Prometheus at --prometheus-url, and reachable from here?): {0}")]
    Unreachable(String),
    #[error(
        "its certificate is from a CA the dashboard does not trust: give that CA with --prometheus-ca-file ({0})"
    )]
    UntrustedCertificate(String),
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("its answer is not Prometheus's JSON: {0}")]
    Invalid(String),
    #[error("its answer is larger than {} MiB", MAX_ANSWER_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("its answer broke off: {0}")]
    Body(String),
    #[error("cannot read the bearer token file {path}: {why}")]
    TokenFile { path: String, why: String },
}

/// Why the settings cannot be used (said at start).
#[derive(Debug, thiserror::Error)]
pub enum PrometheusConfigError {
    #[error(
        "--prometheus-url must be http:// or https:// with a host, no user or password and no query"
    )]
    Url,
    #[error("--prometheus-ca-file is for an https:// --prometheus-url")]
    CaFileWithoutHttps,
    #[error("--prometheus-ca-file {path}: {why}")]
    CaFile { path: String, why: String },
    #[error("TLS for Prometheus: {0}")]
    Tls(String),
}

/// One sample of an instant query's answer: the series' labels that the dashboard reads
/// (`__name__` among them; [`SeriesLabels`] drops the others while parsing) and its value.
#[derive(Debug, Clone, Deserialize)]
pub struct VectorSample {
    pub metric: SeriesLabels,
    /// `[Unix seconds, "value"]` as Prometheus writes it, kept as the value's number.
    #[serde(rename = "value", deserialize_with = "value_number")]
    number: Option<f64>,
}

impl VectorSample {
    /// The series' name.
    pub fn name(&self) -> &str {
        self.metric.name()
    }

    /// The value as a number (`"NaN"` and `"+Inf"` included); None when Prometheus wrote
    /// something else.
    pub fn number(&self) -> Option<f64> {
        self.number
    }
}

/// The number of an instant sample's `[time, "value"]`.
fn value_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    let (_, NumberText(number)) = <(serde::de::IgnoredAny, NumberText)>::deserialize(deserializer)?;
    Ok(number)
}

/// A number written as a string, read without copying the string.
struct NumberText(Option<f64>);

impl<'de> Deserialize<'de> for NumberText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = StrAs {
            expecting: "a number as a string",
            read: |text: &str| NumberText(text.parse().ok()),
        };
        serde::de::DeserializeSeed::deserialize(number, deserializer)
    }
}

/// One series of a range query's answer: its labels and its values, oldest first.
#[derive(Debug, Clone, Deserialize)]
pub struct MatrixSeries {
    pub metric: HashMap<String, String>,
    /// Unix seconds and each value as Prometheus writes it.
    pub values: Vec<(f64, String)>,
}

/// Whether Prometheus did what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Success,
    Error,
}

/// What a query's data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ResultType {
    Vector,
    Matrix,
    Scalar,
    String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer<T> {
    status: Status,
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData<T> {
    result_type: ResultType,
    result: Vec<T>,
}

impl<T> QueryData<T> {
    /// The result, when it is of the type asked for.
    fn of_type(self, asked: ResultType) -> Result<Vec<T>, PrometheusError> {
        if self.result_type == asked {
            Ok(self.result)
        } else {
            Err(PrometheusError::Invalid(format!(
                "a {:?} where a {asked:?} was asked for",
                self.result_type
            )))
        }
    }
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A client of one Prometheus server.
#[derive(Clone)]
pub struct Prometheus {
    /// The base URL without a trailing `/`.
    base: Arc<str>,
    token: Option<Arc<TokenFile>>,
    client: HttpsClient,
    timeout: Duration,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Prometheus {
    /// A client of the server in `settings`, each request bounded by `timeout`.
    pub fn new(
        settings: &PrometheusSettings,
        timeout: Duration,
    ) -> Result<Self, PrometheusConfigError> {
        let url = &settings.url;
        let scheme_ok = matches!(url.scheme_str(), Some("http" | "https"));
        // A user and password in the URL would be logged with it, and hyper would not send them.
        let userinfo = url.authority().is_some_and(|a| a.as_str().contains('@'));
        if !scheme_ok || url.host().is_none() || url.query().is_some() || userinfo {
            return Err(PrometheusConfigError::Url);
        }
        if settings.ca_file.is_some() && url.scheme_str() != Some("https") {
            return Err(PrometheusConfigError::CaFileWithoutHttps);
        }
        let tls = tls_config(settings.ca_file.as_deref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let base = url.to_string();
        Ok(Prometheus {
            base: base.trim_end_matches('/').into(),
            token: settings
                .token_file
                .clone()
                .map(|path| Arc::new(TokenFile::new(path, TOKEN_REREAD_PERIOD))),
            client,
            timeout,
        })
    }

    /// The base URL, for the page and the logs (it holds no token).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The samples an instant query of `query` answers now.
    pub async fn instant(&self, query: &str) -> Result<Vec<VectorSample>, PrometheusError> {
        let path = format!(
            "/api/v1/query?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("query", query)
                .finish()
        );
        let body = self.get(&path).await?;
        read_answer::<QueryData<VectorSample>>(&body)?.of_type(ResultType::Vector)
    }

    /// The series a range query of `query` answers from `start_s` to `end_s` (Unix seconds),
    /// a value every `step_s` seconds.
    pub async fn range(
        &self,
        query: &str,
        start_s: i64,
        end_s: i64,
        step_s: i64,
    ) -> Result<Vec<MatrixSeries>, PrometheusError> {
        let path = format!(
            "/api/v1/query_range?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("query", query)
                .append_pair("start", &start_s.to_string())
                .append_pair("end", &end_s.to_string())
                .append_pair("step", &step_s.max(1).to_string())
                .finish()
        );
        let body = self.get(&path).await?;
        read_answer::<QueryData<MatrixSeries>>(&body)?.of_type(ResultType::Matrix)
    }

    async fn get(&self, path_and_query: &str) -> Result<Bytes, PrometheusError> {
        let uri: Uri = format!("{}{path_and_query}", self.base)
            .parse()
            .map_err(|e| PrometheusError::Invalid(format!("the request's address: {e}")))?;
        let mut request = Request::get(uri).header(header::ACCEPT, "application/json");
        let token = match &self.token {
            Some(file) => Some(file.bearer()?),
            None => None,
        };
        if let Some(token) = &token {
            request = request.header(header::AUTHORIZATION, token.header.clone());
        }
        // What Prometheus (or a proxy in front) says is quoted on pages: never with the token,
        // which is taken out before the text is shortened (a cut could leave part of it).
        let quoted = |text: &str| {
            let text = match &token {
                Some(token) => text.replace(token.text.as_str(), "[token]"),
                None => text.to_string(),
            };
            shortened(text)
        };
        let request = request
            .body(Empty::new())
            .map_err(|e| PrometheusError::Invalid(e.to_string()))?;
        let ms = self.timeout.as_millis() as u64;
        tokio::time::timeout(self.timeout, async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| connect_error(&e))?;
            let status = response.status();
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                && let Some(file) = &self.token
            {
                file.forget();
            }
            if status != StatusCode::OK {
                // Only the start of a refusal is read, for its reason.
                let mut body = response.into_body();
                let mut start = Vec::new();
                while start.len() < MAX_REFUSAL_BYTES {
                    match body.frame().await {
                        Some(Ok(frame)) => {
                            if let Some(data) = frame.data_ref() {
                                start.extend_from_slice(data);
                            }
                        }
                        _ => break,
                    }
                }
                return Err(PrometheusError::Status {
                    status: status.as_u16(),
                    message: quoted(&error_of(&start)),
                });
            }
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        PrometheusError::TooLarge
                    } else {
                        PrometheusError::Body(quoted(&e.to_string()))
                    }
                })?
                .to_bytes();
            Ok(body)
        })
        .await
        .map_err(|_| PrometheusError::Timeout { ms })?
    }
}

/// A bearer token file and the token last read from it.
struct TokenFile {
    path: PathBuf,
    /// How long a token read is used before the file is read again.
    period: Duration,
    /// The token last read and when. When a later read fails, it is still sent (and the
    /// failure logged), as client-go does; with none read yet, the request fails.
    last: Mutex<Option<(Instant, Arc<Bearer>)>>,
}

impl TokenFile {
    fn new(path: PathBuf, period: Duration) -> Self {
        TokenFile {
            path,
            period,
            last: Mutex::new(None),
        }
    }

    /// The token to send: the one last read if younger than the period, else the file's now.
    fn bearer(&self) -> Result<Arc<Bearer>, PrometheusError> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((read_at, bearer)) = last.as_ref()
            && read_at.elapsed() < self.period
        {
            return Ok(Arc::clone(bearer));
        }
        match self.read() {
            Ok(bearer) => {
                let bearer = Arc::new(bearer);
                *last = Some((Instant::now(), Arc::clone(&bearer)));
                Ok(bearer)
            }
            Err(error) => match last.as_ref() {
                Some((_, kept)) => {
                    tracing::warn!(%error, "sending the bearer token read before");
                    Ok(Arc::clone(kept))
                }
                None => Err(error),
            },
        }
    }

    /// Forgets the token read, so the next request reads the file (Prometheus refused it).
    fn forget(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The token in the file (a small file, read whole).
    fn read(&self) -> Result<Bearer, PrometheusError> {
        use std::io::Read;
        let refused = |why: String| PrometheusError::TokenFile {
            path: self.path.display().to_string(),
            why,
        };
        let mut token = String::new();
        std::fs::File::open(&self.path)
            .and_then(|file| file.take(MAX_TOKEN_FILE_BYTES).read_to_string(&mut token))
            .map_err(|e| refused(e.to_string()))?;
        let token = token.trim();
        if token.is_empty() {
            return Err(refused("it is empty".into()));
        }
        if token.len() as u64 >= MAX_TOKEN_FILE_BYTES - 1 {
            return Err(refused(format!(
                "it is larger than {} KiB",
                MAX_TOKEN_FILE_BYTES / 1024
            )));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| refused("it holds characters a header cannot carry".into()))?;
        // Marked sensitive, so it is never logged.
        header.set_sensitive(true);
        Ok(Bearer {
            text: token.to_string(),
            header,
        })
    }
}

/// A bearer token: its text (kept out of quoted refusals) and its `Authorization` header.
struct Bearer {
    text: String,
    header: HeaderValue,
}

/// rustls with ring, trusting the CA file's certificates or else the system's roots.
fn tls_config(
    ca_file: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, PrometheusConfigError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let refused = |why: String| PrometheusConfigError::CaFile {
                path: path.display().to_string(),
                why,
            };
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| refused(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| refused(e.to_string()))?;
            if certificates.is_empty() {
                return Err(refused("no PEM certificate in it".into()));
            }
            for certificate in certificates {
                roots.add(certificate).map_err(|e| refused(e.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "a system root certificate could not be read");
            }
            roots.add_parsable_certificates(found.certs);
        }
    }
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| PrometheusConfigError::Tls(e.to_string()))
}

/// Why the connection failed, with its causes (hyper's own text is only "client error
/// (Connect)"): an untrusted certificate as such (what to set comes first, so a shortened
/// reason keeps it), else unreachable.
fn connect_error(error: &hyper_util::client::legacy::Error) -> PrometheusError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    let mut untrusted = false;
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        untrusted |= unknown_issuer(cause);
        source = cause.source();
    }
    if untrusted {
        PrometheusError::UntrustedCertificate(shortened(text))
    } else {
        PrometheusError::Unreachable(shortened(text))
    }
}

/// Whether `cause` is rustls finding no trusted CA that signs the server's certificate (as
/// itself, or inside the `io::Error`s the connector wraps it in). Only that is mended by a CA
/// file; an expired certificate or one for another name is not.
fn unknown_issuer(cause: &(dyn std::error::Error + 'static)) -> bool {
    let mut inner = Some(cause);
    while let Some(error) = inner {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            );
        }
        inner = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|wrapped| wrapped as &(dyn std::error::Error + 'static));
    }
    false
}

/// The data of a successful answer.
fn read_answer<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PrometheusError> {
    let answer: Answer<T> = serde_json::from_slice(body)
        .map_err(|e| PrometheusError::Invalid(shortened(e.to_string())))?;
    match (answer.status, answer.data) {
        (Status::Success, Some(data)) => Ok(data),
        _ => Err(PrometheusError::Invalid(shortened(
            answer.error.unwrap_or_else(|| "no data".into()),
        ))),
    }
}

/// What an answer that is not 200 says: Prometheus's `error`, or its body (whole: the caller
/// takes the token out before it shortens it).
fn error_of(body: &[u8]) -> String {
    match serde_json::from_slice::<Answer<serde::de::IgnoredAny>>(body) {
        Ok(Answer {
            error: Some(error), ..
        }) => error,
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn settings(url: &str) -> PrometheusSettings {
        PrometheusSettings {
            url: url.parse().expect("a URI"),
            token_file: None,
            ca_file: None,
        }
    }

    #[test]
    fn an_instant_answer_is_read_and_errors_are_quoted_short() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"DCGM_FI_DEV_GPU_UTIL","UUID":"GPU-1"},"value":[1700000000.5,"42"]},
            {"metric":{"__name__":"DCGM_FI_DEV_GPU_TEMP","UUID":"GPU-1"},"value":[1700000000.5,"NaN"]}]}}"#;
        let data: QueryData<VectorSample> = read_answer(body).expect("read");
        let result = data.of_type(ResultType::Vector).expect("a vector");
        assert_eq!(result.len(), 2);
        assert_eq!(result[0].name(), "DCGM_FI_DEV_GPU_UTIL");
        assert_eq!(result[0].number(), Some(42.0));
        assert!(result[1].number().is_some_and(f64::is_nan));
        let escaped = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1,"\u0034\u0032"]},{"metric":{},"value":[1,"many"]}]}}"#;
        let data: QueryData<VectorSample> = read_answer(escaped).expect("read");
        let numbers: Vec<Option<f64>> = data.result.iter().map(VectorSample::number).collect();
        assert_eq!(numbers, [Some(42.0), None]);
        // A matrix read where a vector was asked for is refused, saying so.
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let data: QueryData<VectorSample> = read_answer(matrix).expect("read");
        assert!(matches!(
            data.of_type(ResultType::Vector),
            Err(PrometheusError::Invalid(why)) if why.contains("Matrix")
        ));
        let refused =
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        assert_eq!(error_of(refused), "parse error at char 3");
        assert!(matches!(
            read_answer::<QueryData<VectorSample>>(refused),
            Err(PrometheusError::Invalid(why)) if why == "parse error at char 3"
        ));
        let long = "x".repeat(5000);
        assert_eq!(
            shortened(error_of(long.as_bytes())).len(),
            super::super::MAX_MESSAGE_BYTES + '…'.len_utf8()
        );
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_and_no_password_are_taken() {
        let timeout = Duration::from_secs(1);
        assert!(Prometheus::new(&settings("http://127.0.0.1:9090/"), timeout).is_ok());
        for bad in [
            "ftp://127.0.0.1/",
            "/api",
            "http://127.0.0.1:9090/?x=1",
            "http://admin:secret@127.0.0.1:9090/",
        ] {
            assert!(
                matches!(
                    Prometheus::new(&settings(bad), timeout),
                    Err(PrometheusConfigError::Url)
                ),
                "{bad}"
            );
        }
        let ca_over_http = PrometheusSettings {
            ca_file: Some("/etc/ssl/certs/ca.pem".into()),
            ..settings("http://127.0.0.1:9090/")
        };
        assert!(matches!(
            Prometheus::new(&ca_over_http, timeout),
            Err(PrometheusConfigError::CaFileWithoutHttps)
        ));
    }

    /// A server on loopback that answers every request with 401 and the request itself in the
    /// body, as a debugging proxy might.
    async fn echoing_refuser() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bound");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = vec![0u8; 8192];
                let read = stream.read(&mut request).await.unwrap_or(0);
                let body = String::from_utf8_lossy(&request[..read]).into_owned();
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    /// A slow Prometheus (one that takes the connection and never answers) is a timeout, said
    /// with the time waited.
    #[tokio::test]
    async fn a_prometheus_that_does_not_answer_in_time_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bound");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let prometheus = Prometheus::new(
            &settings(&format!("http://{addr}/")),
            Duration::from_millis(300),
        )
        .expect("a client");
        assert_eq!(
            prometheus.instant("up").await.expect_err("no answer"),
            PrometheusError::Timeout { ms: 300 }
        );
    }

    /// A client of [`echoing_refuser`] that sends the token in `path`.
    async fn refused_with_token_file(path: &std::path::Path) -> Prometheus {
        let addr = echoing_refuser().await;
        Prometheus::new(
            &PrometheusSettings {
                token_file: Some(path.to_path_buf()),
                ..settings(&format!("http://{addr}/"))
            },
            Duration::from_secs(5),
        )
        .expect("a client")
    }

    #[tokio::test]
    async fn a_rotated_token_is_read_and_never_quoted() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("token");
        let mut prometheus = refused_with_token_file(&path).await;
        // Read at every request, as if each were a minute after the last.
        let every_time = Arc::new(TokenFile::new(path.clone(), Duration::ZERO));
        prometheus.token = Some(Arc::clone(&every_time));
        // (Bearer has no Debug, so that no token is ever printed.)
        let Err(missing) = every_time.bearer() else {
            panic!("a token with no file yet")
        };
        assert!(matches!(missing, PrometheusError::TokenFile { .. }));
        std::fs::write(&path, "secret-token-1\n").expect("written");
        let bearer = every_time.bearer().expect("a token");
        assert_eq!(bearer.text, "secret-token-1");
        assert_eq!(bearer.header, "Bearer secret-token-1");
        assert!(bearer.header.is_sensitive());
        std::fs::write(&path, "secret-token-2").expect("rotated");
        // The refusal quotes the request, which carried the rotated token: it is not quoted.
        let error = prometheus.instant("up").await.expect_err("refused");
        let text = error.to_string();
        assert!(
            matches!(&error, PrometheusError::Status { status: 401, .. })
                && text.contains("[token]"),
            "{text}"
        );
        assert!(!text.contains("secret-token"), "{text}");
        // A file that cannot be read after one could: the token read before is still sent
        // (the 401 forgot the last one, so it is read first).
        assert_eq!(every_time.bearer().expect("read").text, "secret-token-2");
        std::fs::write(&path, "x".repeat(70_000)).expect("written");
        assert_eq!(every_time.bearer().expect("kept").text, "secret-token-2");
        let fresh = TokenFile::new(path.clone(), Duration::ZERO);
        assert!(fresh.bearer().is_err_and(|e| e.to_string().contains("KiB")));
    }

    #[tokio::test]
    async fn a_token_is_kept_for_its_period_unless_prometheus_refuses_it() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("token");
        let mut prometheus = refused_with_token_file(&path).await;
        let wired = prometheus.token.as_ref().expect("a token file");
        assert_eq!(wired.period, TOKEN_REREAD_PERIOD);

        let short = Arc::new(TokenFile::new(path.clone(), Duration::from_millis(200)));
        std::fs::write(&path, "secret-token-3").expect("written");
        assert_eq!(short.bearer().expect("read").text, "secret-token-3");
        std::fs::write(&path, "secret-token-4").expect("rotated");
        assert_eq!(short.bearer().expect("kept").text, "secret-token-3");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(short.bearer().expect("re-read").text, "secret-token-4");

        // A 401 forgets the token: the next request reads the file, however young the token.
        std::fs::write(&path, "secret-token-5").expect("rotated");
        assert_eq!(short.bearer().expect("kept").text, "secret-token-4");
        prometheus.token = Some(Arc::clone(&short));
        let refused = prometheus.instant("up").await.expect_err("refused");
        assert!(matches!(
            refused,
            PrometheusError::Status { status: 401, .. }
        ));
        assert_eq!(short.bearer().expect("re-read").text, "secret-token-5");
    }
}
