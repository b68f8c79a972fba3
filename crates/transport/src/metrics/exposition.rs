//! The engine's statistics in the Prometheus text format (0.0.4), written
//! by the `prometheus-client` crate's encoder from a [`StatsSnapshot`]: the
//! engine keeps its own atomics, and a scrape turns one snapshot of them
//! into a collector (names, `# HELP`, `# TYPE`, label escaping and number
//! formats are the crate's).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use shoal_engine::{HistogramSnapshot, StatsSnapshot, StreamKind};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `Content-Type` of what [`render`] writes.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The whole exposition of one snapshot.
pub fn render(snap: StatsSnapshot) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition(snap)));
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

/// One scrape's snapshot, as a collector.
#[derive(Debug)]
struct Exposition(StatsSnapshot);

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = &self.0;
        let e = &mut enc;
        // Counters: the encoder appends `_total` to their names.
        counter(
            e,
            "shoal_sessions_created",
            "Sessions created.",
            s.sessions_created,
        )?;
        counter(
            e,
            "shoal_sessions_closed",
            "Sessions closed, for any reason.",
            s.sessions_closed,
        )?;
        counter(
            e,
            "shoal_sessions_taken_over",
            "Sessions of dead or draining nodes this node took over (session handoff).",
            s.sessions_taken_over,
        )?;
        counter(
            e,
            "shoal_sessions_handed_over",
            "Sessions this node handed over to the other nodes when it drained.",
            s.sessions_handed_over,
        )?;
        counter(
            e,
            "shoal_takeovers_refused",
            "Recoveries of another node's session that this node could not take over (the client opened a new session).",
            s.takeovers_refused,
        )?;
        counter(
            e,
            "shoal_connections_accepted",
            "TLCP connections accepted (HTTP requests and WebSockets reaching TLCP).",
            s.connections_accepted,
        )?;
        counter(
            e,
            "shoal_updates_delivered",
            "Update lines (U) written to clients.",
            s.updates_delivered,
        )?;
        counter(
            e,
            "shoal_written_bytes",
            "Bytes of TLCP text handed to the transports for clients.",
            s.bytes_written,
        )?;
        counter(
            e,
            "shoal_requests",
            "TLCP requests handled (create, bind, control, msg, heartbeat...).",
            s.requests_handled,
        )?;
        counter(
            e,
            "shoal_requests_refused",
            "TLCP requests answered with CONERR, REQERR or ERROR.",
            s.requests_refused,
        )?;
        counter(
            e,
            "shoal_messages_received",
            "Client messages (msg) received.",
            s.messages_received,
        )?;

        gauge(e, "shoal_sessions", "Sessions held now.", s.sessions)?;
        let mut m = e.encode_descriptor(
            "shoal_sessions_by_transport",
            "Sessions held now, by the kind of their bound stream (none: no stream bound now).",
            None,
            MetricType::Gauge,
        )?;
        for kind in StreamKind::ALL {
            labelled(&mut m, &[("transport", kind.label())], s.sessions_on(kind))?;
        }
        labelled(&mut m, &[("transport", "none")], s.sessions_unbound)?;
        gauge(
            e,
            "shoal_connections_open",
            "TLCP connections open now.",
            s.connections_open,
        )?;
        gauge(
            e,
            "shoal_subscriptions",
            "Subscriptions held by all sessions now.",
            s.subscriptions,
        )?;
        gauge(
            e,
            "shoal_items_subscribed",
            "Items subscribed from the data adapters now.",
            s.items,
        )?;
        gauge(
            e,
            "shoal_buffered_bytes",
            "Bytes of session buffers held now (queued updates, recovery logs).",
            s.buffered_bytes,
        )?;

        histogram(e, "shoal_delivery_latency_seconds", "From the engine receiving an event from its data adapter to the chunk holding it being handed to the transport (the oldest update of each chunk).", &s.delivery_latency)?;
        histogram(
            e,
            "shoal_session_lifetime_seconds",
            "How long sessions lasted, observed as they close.",
            &s.session_lifetime,
        )?;
        histogram(
            e,
            "shoal_request_duration_seconds",
            "Time to handle create_session, bind_session and control requests.",
            &s.request_duration,
        )?;

        let mut m = e.encode_descriptor(
            "shoal_data_adapter_ready",
            "1 when the data adapter can serve, 0 when it says it cannot (the health check then answers 503).",
            None,
            MetricType::Gauge,
        )?;
        for a in &s.adapters {
            let labels = [
                ("adapter_set", a.adapter_set.as_str()),
                ("data_adapter", a.data_adapter.as_str()),
            ];
            labelled(&mut m, &labels, u64::from(a.unready.is_none()))?;
        }

        let mut m = e.encode_descriptor(
            "shoal_build_info",
            "The running version of Shoal; always 1.",
            None,
            MetricType::Gauge,
        )?;
        labelled(&mut m, &[("version", env!("CARGO_PKG_VERSION"))], 1)?;
        gauge_f64(
            e,
            "shoal_start_time_seconds",
            "When the engine started, seconds since the Unix epoch.",
            epoch_seconds(s.start_time),
        )?;

        // The standard process metrics, under their usual names.
        if let Some(p) = &s.process {
            let m = e.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?;
            let mut m = m;
            m.encode_counter::<NoLabelSet, _, u64>(&p.cpu.as_secs_f64(), None)?;
            gauge(
                e,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                p.rss,
            )?;
            gauge(
                e,
                "process_threads",
                "Number of OS threads in the process.",
                p.threads,
            )?;
            if let Some(fds) = p.open_fds {
                gauge(
                    e,
                    "process_open_fds",
                    "Number of open file descriptors.",
                    fds,
                )?;
            }
            if let Some(start) = p.start_time {
                gauge_f64(
                    e,
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    start,
                )?;
            }
        }
        Ok(())
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    m.encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// One sample of a gauge family with labels.
fn labelled(m: &mut MetricEncoder, labels: &impl EncodeLabelSet, v: u64) -> fmt::Result {
    m.encode_family(labels)?.encode_gauge(&v)
}

fn gauge_f64(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// The encoder wants per-bucket counts (it accumulates them itself); the
/// snapshot has them cumulative, as Prometheus shows them.
fn histogram(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &HistogramSnapshot,
) -> fmt::Result {
    let mut below = 0;
    let buckets: Vec<(f64, u64)> = h
        .buckets
        .iter()
        .map(|&(bound, cumulative)| {
            let n = cumulative.saturating_sub(below);
            below = cumulative;
            (bound, n)
        })
        .collect();
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
