//! Prometheus metrics (`metrics.bind`, contract §11): what is counted, how it is exported, and
//! the listener that serves `GET /metrics` on its own address — never on the public router.
//!
//! Each [`Wristband`](crate::Wristband) handle has its own registry (no global recorder: an
//! application, or a test binary, may run several handles in one process). Two halves, so
//! that the service never holds what holds the service:
//!
//! - [`Recorder`]: the counters and histograms events move. It is the service's and the
//!   hasher's [`Observer`] (logins, registrations, throttled attempts, hashing waits), and the
//!   request-latency middleware ([`record_request`]) writes to it.
//! - [`Exporter`]: the registry, holding the recorder's metrics plus a collector that reads
//!   at scrape time what is already counted elsewhere — the session cache, the hashing queue,
//!   the store's errors — so nothing is counted twice.
//!
//! Label values are bounded: enums of auth-core, the route *template* axum matched (never the
//! raw path; requests no route matched are `unmatched`), the method (`other` beyond the usual
//! ones), the status class. Nothing a client typed and nothing secret is ever a label.

use crate::serve::Limits;
use auth_core::AuthService;
use auth_core::observe::{LoginMethod, Observer, Outcome};
use auth_core::throttle::ThrottleScope;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The path the metrics listener answers on.
pub(crate) const PATH: &str = "/metrics";
/// The exposition's media type: OpenMetrics text, which Prometheus reads.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The prefix of every metric's name.
const PREFIX: &str = "wristband";
/// Scrapers served at once; more wait in the listen backlog.
const MAX_SCRAPERS: usize = 16;

/// Request latency buckets, seconds: from a cached session's sub-millisecond answer to a
/// login that waited for a hashing worker.
const REQUEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Hashing queue wait buckets, seconds, up to the 10 s after which a caller gives up
/// ([`auth_core::hasher::HASH_WAIT`]).
const HASH_WAIT_BUCKETS: [f64; 13] = [
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

type Labels1 = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];

/// The route label: the template axum matched, shared with the request (no copy per request).
#[derive(Clone, Debug)]
struct Route(Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The labels of a request's latency.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Route,
    status: &'static str,
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

/// The metrics events move; the service's and the hasher's observer.
#[derive(Debug)]
pub(crate) struct Recorder {
    logins: Family<Labels2, Counter>,
    registrations: Family<Labels1, Counter>,
    throttled: Family<Labels1, Counter>,
    hash_wait: Histogram,
    requests: Family<RequestLabels, Histogram>,
}

impl Recorder {
    /// Every series of a known label set starts at 0, so a rate over it is defined from the
    /// first scrape.
    pub(crate) fn new() -> Self {
        let recorder = Self {
            logins: Family::default(),
            registrations: Family::default(),
            throttled: Family::default(),
            hash_wait: Histogram::new(HASH_WAIT_BUCKETS),
            requests: Family::new_with_constructor(request_histogram),
        };
        for method in LoginMethod::ALL {
            for outcome in method.outcomes() {
                let _ = recorder
                    .logins
                    .get_or_create(&login_labels(method, *outcome));
            }
        }
        for outcome in Outcome::REGISTRATION {
            let _ = recorder
                .registrations
                .get_or_create(&[("outcome", outcome.as_str())]);
        }
        for scope in ThrottleScope::ALL {
            let _ = recorder
                .throttled
                .get_or_create(&[("scope", scope.as_str())]);
        }
        recorder
    }

    fn request(&self, labels: &RequestLabels, took: Duration) {
        self.requests
            .get_or_create(labels)
            .observe(took.as_secs_f64());
    }
}

fn login_labels(method: LoginMethod, outcome: Outcome) -> Labels2 {
    [("method", method.as_str()), ("outcome", outcome.as_str())]
}

impl Observer for Recorder {
    fn login(&self, method: LoginMethod, outcome: Outcome) {
        self.logins
            .get_or_create(&login_labels(method, outcome))
            .inc();
    }

    fn registration(&self, outcome: Outcome) {
        self.registrations
            .get_or_create(&[("outcome", outcome.as_str())])
            .inc();
    }

    fn throttled(&self, scope: ThrottleScope) {
        self.throttled
            .get_or_create(&[("scope", scope.as_str())])
            .inc();
    }

    fn hash_waited(&self, waited: Duration) {
        self.hash_wait.observe(waited.as_secs_f64());
    }
}

/// Reads, at each scrape, what the service already counts.
#[derive(Debug)]
struct ServiceCollector {
    service: AuthService,
}

impl ServiceCollector {
    fn counters(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        label: &'static str,
        values: &[(&'static str, u64)],
    ) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (value, count) in values {
            let labels: Labels1 = [(label, value)];
            ConstCounter::new(*count).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn gauge(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: u64,
    ) -> Result<(), std::fmt::Error> {
        let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        ConstGauge::new(value).encode(metric)
    }
}

impl Collector for ServiceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let cache = self.service.session_cache().stats();
        Self::counters(
            &mut encoder,
            "session_cache_lookups",
            "Sessions looked up in the session cache: hit (answered from memory), miss (read from the store), bypass (read from the store: the cache was not trusted, its change feed not fresh).",
            "result",
            &[
                ("hit", cache.hits),
                ("miss", cache.misses),
                ("bypass", cache.bypassed),
            ],
        )?;
        Self::gauge(
            &mut encoder,
            "session_cache_sessions",
            "Sessions held in the session cache now (approximate).",
            cache.sessions,
        )?;
        let hasher = self.service.hasher_stats();
        Self::gauge(
            &mut encoder,
            "hash_queue_depth",
            "Password hashing jobs waiting for a worker now.",
            hasher.queued(),
        )?;
        let rejected = encoder.encode_descriptor(
            "hash_queue_rejected",
            "Password hashing jobs refused because the queue was full (answered 503).",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(hasher.rejected_busy()).encode(rejected)?;
        if let Some(errors) = self.service.store().error_counts() {
            Self::counters(
                &mut encoder,
                "database_errors",
                "Database errors: unavailable (unreachable, locked, timed out: 503) or failed (anything else: 500).",
                "kind",
                &[
                    ("unavailable", errors.unavailable),
                    ("failed", errors.failed),
                ],
            )?;
        }
        Ok(())
    }
}

/// The registry of one handle, and its text.
#[derive(Debug)]
pub(crate) struct Exporter {
    registry: Registry,
}

impl Exporter {
    pub(crate) fn new(recorder: &Recorder, service: AuthService) -> Self {
        // The registry ends each registered help text with a period.
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "logins",
            "Login steps decided, by method (password, second_factor, passkey) and outcome",
            recorder.logins.clone(),
        );
        registry.register(
            "registrations",
            "Registrations decided, by outcome",
            recorder.registrations.clone(),
        );
        registry.register(
            "throttled_attempts",
            "Attempts refused by the throttle (429), by the limit that refused them",
            recorder.throttled.clone(),
        );
        registry.register_with_unit(
            "hash_wait",
            "Time password hashing jobs waited in the queue before a worker took them",
            Unit::Seconds,
            recorder.hash_wait.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer requests, by method, route template and status class",
            Unit::Seconds,
            recorder.requests.clone(),
        );
        registry.register_collector(Box::new(ServiceCollector { service }));
        Self { registry }
    }

    /// The OpenMetrics text of every metric now.
    pub(crate) fn text(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// A handle's metrics: what records, what exports, and where they are served.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    pub recorder: Arc<Recorder>,
    pub exporter: Arc<Exporter>,
    pub address: SocketAddr,
}

/// Records every request's latency under its route template; Wristband's outermost layer but
/// tracing's, so it times everything Wristband does for the request.
pub(crate) async fn record_request(
    State(recorder): State<Arc<Recorder>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = Route(request.extensions().get::<MatchedPath>().cloned());
    let response = next.run(request).await;
    let labels = RequestLabels {
        method,
        route,
        status: status_class(response.status()),
    };
    recorder.request(&labels, started.elapsed());
    response
}

/// `GET /metrics`.
async fn scrape(State(exporter): State<Arc<Exporter>>) -> Response {
    match exporter.text() {
        Ok(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "could not encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Serves `GET /metrics` from `exporter` on `listener` (bound to `metrics.bind`) until the
/// task is aborted, with the public port's header timeout; every other path is a 404.
pub(crate) async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    header_timeout: Duration,
) {
    let router = Router::new().route(PATH, get(scrape)).with_state(exporter);
    let limits = Limits {
        header_timeout,
        max_connections: MAX_SCRAPERS,
    };
    if let Err(error) = crate::serve::serve(listener, router, limits, std::future::pending()).await
    {
        tracing::error!(error = %auth_core::service::error_chain(&error), "metrics are not served");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
        assert_eq!(Route(None).as_str(), "unmatched");
    }
}
