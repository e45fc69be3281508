//! Prometheus metrics, served at `/metrics` on a listener of their own
//! (`MEP24WEB_METRICS_ADDR`): requests by route template and status with their latency, the
//! outbox depth by state, and the login counters of [`mep24web_platform::metrics`].
//!
//! Labels take values from small fixed sets only: the HTTP method, the host kind, the route
//! template the router matched (`/admin/employees/{id}`, never the raw path) and the status.
//! No label carries a tenant id, slug, username or client address.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mep24web_platform::db;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};

/// Upper bounds of the latency buckets in seconds, from a cached page (about 1 ms) to a request
/// that ran into the request timeout (30 s by default).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Time limit of the outbox count taken at each scrape.
const OUTBOX_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Route label of a request that no route matched (a fallback page, an invalid host).
pub const UNMATCHED: &str = "unmatched";

/// Label set of the request histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    host_kind: &'static str,
    route: Arc<str>,
    status: u16,
}

/// Label set of the outbox gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    state: String,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The registry of one application and the metrics it updates itself.
pub struct Metrics {
    registry: Registry,
    requests: HistogramFamily,
    outbox: Family<OutboxLabels, Gauge>,
    db: DatabaseConnection,
    /// Held during a scrape, so two scrapes at once do not interleave the outbox update.
    scrape: tokio::sync::Mutex<()>,
    outbox_failing: std::sync::atomic::AtomicBool,
}

impl Metrics {
    /// Creates the registry with every metric, reading the outbox through `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        let mut registry = Registry::default();
        let requests: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to sending the response headers, by method, host kind \
             (apex, tenant, unknown, none), route template and status. The _count series is the \
             number of requests",
            requests.clone(),
        );
        let outbox = Family::<OutboxLabels, Gauge>::default();
        registry.register(
            "mep24web_outbox_messages",
            "Mails in the outbox by state, without the sent ones, counted at each scrape",
            outbox.clone(),
        );
        mep24web_platform::metrics::register(&mut registry);
        Self {
            registry,
            requests,
            outbox,
            db,
            scrape: tokio::sync::Mutex::new(()),
            outbox_failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn observe(&self, method: &'static str, route: &RouteSlot, status: StatusCode, took: Duration) {
        let (host_kind, route) = route.labels();
        let labels = RequestLabels {
            method,
            host_kind,
            route,
            status: status.as_u16(),
        };
        self.requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Counts the outbox and encodes every metric in the Prometheus text format.
    async fn scrape(&self) -> Result<String, std::fmt::Error> {
        let _scraping = self.scrape.lock().await;
        self.update_outbox().await;
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Replaces the outbox gauges with a fresh count. When the count fails, the gauges are
    /// removed, so a scrape shows no outbox depth rather than a stale one.
    async fn update_outbox(&self) {
        let counted = tokio::time::timeout(OUTBOX_QUERY_TIMEOUT, count_outbox(&self.db)).await;
        let failure = match counted {
            Ok(Ok(counts)) => {
                self.outbox.clear();
                for (state, count) in counts {
                    self.outbox
                        .get_or_create(&OutboxLabels { state })
                        .set(count);
                }
                None
            }
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!("timed out after {OUTBOX_QUERY_TIMEOUT:?}")),
        };
        let was_failing = self
            .outbox_failing
            .swap(failure.is_some(), std::sync::atomic::Ordering::Relaxed);
        match failure {
            Some(error) => {
                self.outbox.clear();
                if !was_failing {
                    tracing::warn!(%error, "counting the outbox for /metrics failed");
                }
            }
            None if was_failing => tracing::info!("counting the outbox for /metrics works again"),
            None => {}
        }
    }
}

/// Counts the outbox rows that are not sent, by state. On PostgreSQL the count runs unscoped,
/// because the outbox contains every tenant's mail behind row-level security.
async fn count_outbox(pool: &DatabaseConnection) -> Result<Vec<(String, i64)>, DbErr> {
    let backend = pool.get_database_backend();
    let statement = Statement::from_string(
        backend,
        "SELECT status, COUNT(*) AS messages FROM outbox WHERE status <> 'sent' GROUP BY status",
    );
    let rows = if backend == DatabaseBackend::Postgres {
        let txn = db::begin_unscoped(pool).await?;
        let rows = txn.query_all(statement).await?;
        txn.commit().await?;
        rows
    } else {
        pool.query_all(statement).await?
    };
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<String>("", "status")?,
                row.try_get::<i64>("", "messages")?,
            ))
        })
        .collect()
}

/// The host kind and route template of one request, filled in while it is handled. It lives in
/// the request extensions, and the recording layer keeps a clone, so the labels survive even
/// when the timeout or a panic drops the handler.
#[derive(Clone, Default)]
pub struct RouteSlot(Arc<Mutex<RouteInfo>>);

#[derive(Default)]
struct RouteInfo {
    host_kind: Option<&'static str>,
    route: Option<Arc<str>>,
}

impl RouteSlot {
    /// Records the host kind: `apex`, `tenant` or `unknown`.
    pub fn set_host_kind(&self, host_kind: &'static str) {
        self.lock().host_kind = Some(host_kind);
    }

    /// Records the route template; the gateway's own paths pass their fixed path.
    pub fn set_route(&self, route: &str) {
        self.lock().route = Some(Arc::from(route));
    }

    fn labels(&self) -> (&'static str, Arc<str>) {
        let info = self.lock();
        (
            info.host_kind.unwrap_or("none"),
            info.route.clone().unwrap_or_else(|| Arc::from(UNMATCHED)),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RouteInfo> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Middleware for the outermost layer: times each request and records it with the labels the
/// inner layers put into its [`RouteSlot`].
pub async fn record_request(
    State(metrics): State<Arc<Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let slot = RouteSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    metrics.observe(method, &slot, response.status(), started.elapsed());
    response
}

/// Route-layer middleware for the apex and tenant routers: copies the route template the
/// router matched into the request's [`RouteSlot`]. Fallbacks do not run route layers, so their
/// requests keep the [`UNMATCHED`] label.
pub async fn tag_route(request: Request, next: Next) -> Response {
    if let (Some(slot), Some(path)) = (
        request.extensions().get::<RouteSlot>(),
        request.extensions().get::<MatchedPath>(),
    ) {
        slot.set_route(path.as_str());
    }
    next.run(request).await
}

/// Returns the method as a label; methods outside the standard set count as `other`, so a
/// client cannot add series by inventing methods.
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

/// Builds the router of the metrics listener: `GET /metrics` and 404 for everything else. The
/// listener is no part of the application, so its one path is matched here rather than added
/// to a route table.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new().fallback(serve_metrics).with_state(metrics)
}

async fn serve_metrics(State(metrics): State<Arc<Metrics>>, request: Request) -> Response {
    if request.uri().path() != "/metrics" {
        return StatusCode::NOT_FOUND.into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    match metrics.scrape().await {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_label_folds_unknown_methods() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::POST), "POST");
        let invented = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&invented), "other");
    }

    #[test]
    fn empty_slot_is_unmatched() {
        let slot = RouteSlot::default();
        let (host_kind, route) = slot.labels();
        assert_eq!(host_kind, "none");
        assert_eq!(&*route, UNMATCHED);

        slot.set_host_kind("tenant");
        slot.set_route("/admin/employees/{id}");
        let (host_kind, route) = slot.labels();
        assert_eq!(host_kind, "tenant");
        assert_eq!(&*route, "/admin/employees/{id}");
    }
}
