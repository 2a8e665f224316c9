//! Prometheus metrics, one registry per application (no globals, so tests run apps side
//! by side): HTTP requests by route template, upload events, the sweeper, the outbox and
//! the database pool. Served at `/metrics` in the text exposition format.

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use domain::Channel;
use domain::image::RejectKind;
use domain::ports::ImageObserver;
use domain::services::SweepReport;

/// Every series the service exports.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub uploads_issued: IntCounterVec,
    pub uploads_confirmed: IntCounterVec,
    pub uploads_rejected: IntCounterVec,
    pub uploads_expired: IntCounter,
    pub sweeper_runs: IntCounter,
    pub sweeper_removals_failed: IntCounter,
    pub sweeper_removed: IntCounterVec,
    pub outbox_depth: IntGaugeVec,
    pub outbox_deliveries: IntCounterVec,
    pub db_connections: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    registered(r, IntCounter::new(name, help)?)
}

fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    registered(r, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

/// `c`, registered in `r`.
fn registered<C: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    c: C,
) -> prometheus::Result<C> {
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    /// A fresh registry with every series.
    ///
    /// # Errors
    /// A series defined twice (a bug).
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        let buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let http_duration = registered(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "HTTP request latency by route template",
                )
                .buckets(buckets),
                &["route", "method"],
            )?,
        )?;
        Ok(Self {
            http_requests: counter_vec(
                &r,
                "http_requests_total",
                "HTTP requests by route template and status",
                &["route", "method", "status"],
            )?,
            http_duration,
            uploads_issued: counter_vec(
                &r,
                "uploads_issued_total",
                "Upload URLs issued, by channel",
                &["channel"],
            )?,
            uploads_confirmed: counter_vec(
                &r,
                "uploads_confirmed_total",
                "Uploads confirmed, by channel",
                &["channel"],
            )?,
            uploads_rejected: counter_vec(
                &r,
                "uploads_rejected_total",
                "Uploads rejected by verification, by reason",
                &["reason"],
            )?,
            uploads_expired: counter(
                &r,
                "uploads_expired_total",
                "Pending uploads expired by the sweeper",
            )?,
            sweeper_runs: counter(&r, "sweeper_runs_total", "Sweeper passes")?,
            sweeper_removals_failed: counter(
                &r,
                "sweeper_removals_failed_total",
                "Removals of a record's objects that failed (retried on the next pass)",
            )?,
            sweeper_removed: counter_vec(
                &r,
                "sweeper_objects_removed_total",
                "Objects the sweeper removed, by why",
                &["kind"],
            )?,
            outbox_depth: gauge_vec(
                &r,
                "outbox_depth",
                "Outbox jobs neither delivered nor failed, by topic",
                &["topic"],
            )?,
            outbox_deliveries: counter_vec(
                &r,
                "outbox_deliveries_total",
                "Outbox delivery outcomes, by topic",
                &["topic", "outcome"],
            )?,
            db_connections: gauge_vec(
                &r,
                "db_pool_connections",
                "Database pool connections by state",
                &["state"],
            )?,
            registry: r,
        })
    }

    /// Records one HTTP request.
    pub fn http(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    pub fn sweep(&self, r: &SweepReport) {
        self.sweeper_runs.inc();
        self.uploads_expired.inc_by(r.expired);
        self.sweeper_removed
            .with_label_values(&["expired_upload"])
            .inc_by(r.expired);
        self.sweeper_removed
            .with_label_values(&["retention"])
            .inc_by(r.retention_deleted);
        self.sweeper_removed
            .with_label_values(&["record"])
            .inc_by(r.objects_removed);
        self.sweeper_removed
            .with_label_values(&["staged_leftover"])
            .inc_by(r.staged_removed);
        self.sweeper_removals_failed.inc_by(r.removals_failed);
    }

    pub fn deliveries(&self, topic: &str, outcome: &str, n: u64) {
        if n > 0 {
            self.outbox_deliveries
                .with_label_values(&[topic, outcome])
                .inc_by(n);
        }
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl ImageObserver for Metrics {
    fn issued(&self, channel: Channel) {
        self.uploads_issued
            .with_label_values(&[channel.as_str()])
            .inc();
    }

    fn confirmed(&self, channel: Channel) {
        self.uploads_confirmed
            .with_label_values(&[channel.as_str()])
            .inc();
    }

    fn rejected(&self, kind: RejectKind) {
        self.uploads_rejected
            .with_label_values(&[kind.as_str()])
            .inc();
    }
}
