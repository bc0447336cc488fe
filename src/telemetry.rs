//! Diagnostics and traces for `seam serve`: the `tracing` subscriber that
//! writes diagnostics to stderr and, when `telemetry.otlp_endpoint` is set,
//! exports one `seam.check` span per Check over OTLP/gRPC.
//!
//! Where it sits in the request path: the Check handler ([`crate::authz`])
//! opens the span ([`span::check_span`]) before anything else, continuing
//! the caller's W3C trace, and closes it after the answer is built with the
//! decision's fields on it. Spans leave in batches from a thread of the
//! OpenTelemetry SDK, so a slow or absent collector never holds a decision
//! up: when its queue is full, spans are dropped, not waited for. Without
//! an endpoint the span is disabled at its call site and costs one level
//! check.

pub mod span;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_appender::non_blocking::NonBlocking;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::TelemetryConfig;

pub use span::CHECK_SPAN;

/// How long an export may take before it is given up, so shutdown cannot
/// hang on a collector that accepts connections and never answers.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why diagnostics or trace export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter refused its settings.
    #[error("cannot export traces to `{endpoint}`: {message}")]
    Exporter {
        /// The configured endpoint.
        endpoint: String,
        /// What the exporter said.
        message: String,
    },
    /// Another subscriber was installed first.
    #[error("cannot install the diagnostic log: {0}")]
    Subscriber(String),
}

/// The installed subscriber. Keep it alive until exit, then call
/// [`Telemetry::shutdown`] so the last log lines and spans leave.
#[must_use = "dropping it stops the log writer; call `shutdown` at exit"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    _log: tracing_appender::non_blocking::WorkerGuard,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("exporting", &self.provider.is_some())
            .finish()
    }
}

impl Telemetry {
    /// Whether spans are being exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every span still queued and stops the exporter, waiting at
    /// most a few seconds for the collector.
    pub fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        if let Err(error) = provider.shutdown_with_timeout(EXPORT_TIMEOUT) {
            tracing::warn!(%error, "the last spans could not be exported");
        }
    }
}

/// Installs the process-wide subscriber: diagnostics on stderr (`SEAM_LOG`
/// filter directives, default `info`; `SEAM_LOG_FORMAT=json` for JSON
/// lines) and, when `config` names an endpoint, the span exporter.
/// `instance` becomes the spans' `service.instance.id`.
///
/// The exporter's connection is made lazily on the current Tokio runtime:
/// call this inside [`tokio::runtime::Runtime::enter`].
pub fn init(config: &TelemetryConfig, instance: &str) -> Result<Telemetry, TelemetryError> {
    let provider = match &config.otlp_endpoint {
        Some(endpoint) => Some(provider(config, endpoint, instance)?),
        None => None,
    };

    let filter =
        EnvFilter::try_from_env("SEAM_LOG").unwrap_or_else(|_| EnvFilter::new("info,notify=warn"));
    let json = std::env::var("SEAM_LOG_FORMAT").is_ok_and(|v| v == "json");
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());

    // Without an exporter the filter is the subscriber's own, so callsites
    // it turns off (the check span, debug events) are off for good and cost
    // nothing per call; with one, it filters only the log layer and the
    // span layer sees the check span.
    let installed = match &provider {
        Some(provider) => tracing_subscriber::registry()
            .with(log_layer(json, writer).with_filter(filter))
            .with(span_layer(provider))
            .try_init(),
        None => tracing_subscriber::registry()
            .with(filter)
            .with(log_layer(json, writer))
            .try_init(),
    };
    installed.map_err(|e| TelemetryError::Subscriber(e.to_string()))?;

    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(
            endpoint,
            sample_ratio = config.sample_ratio,
            "exporting check spans over otlp"
        );
    }
    Ok(Telemetry {
        provider,
        _log: guard,
    })
}

/// Diagnostics on stderr (through `writer`), as text or JSON lines.
fn log_layer<S>(json: bool, writer: NonBlocking) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(writer);
    if json {
        log.json().boxed()
    } else {
        log.boxed()
    }
}

/// The layer that turns `seam.check` spans into OpenTelemetry spans of
/// `provider`. It sees that span and nothing else: diagnostics stay on
/// stderr, and the span is enabled only where it is exported.
fn span_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("seam"))
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(filter_fn(|meta| meta.name() == CHECK_SPAN))
}

/// A tracer provider exporting to `endpoint` in batches, sampling new
/// traces at the configured ratio and following a caller's decision.
fn provider(
    config: &TelemetryConfig,
    endpoint: &str,
    instance: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TelemetryError::Exporter {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;

    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(KeyValue::new("service.instance.id", instance.to_string()))
        .build();
    let sampler = sampler(config.sample_ratio);

    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(resource)
        .build())
}

/// Keeps `ratio` of new traces; a trace the caller started is kept exactly
/// when the caller sampled it.
fn sampler(ratio: f64) -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
}

#[cfg(test)]
mod tests;
