//! Draws the libraries' `progress` tracing spans as indicatif bars, and routes log lines around
//! them. Libraries never touch indicatif: they only open spans with `task`, `total`, `done`.

use std::io::Write;
use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static BARS: OnceLock<MultiProgress> = OnceLock::new();

fn bars() -> &'static MultiProgress {
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// ferry's own crates warn by default; dependencies (rustls, hyper, …) only speak when asked,
/// since every failure of theirs reaches the user through ferry's own error anyway.
const DEFAULT_LOG: &str = "off,ferry=warn,exporter=warn,installer=warn,bundle_format=warn";

/// Install logging (FERRY_LOG, default: ferry's warnings) and the progress layer.
pub fn install() {
    let filter =
        EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(colour_on_stderr())
        .with_writer(|| SuspendingStderr)
        .with_target(false)
        .without_time()
        .with_filter(filter);
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(ProgressLayer)
        .try_init();
}

/// Colour only for a person at a terminal, and never with NO_COLOR set (no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub fn suspend<T>(f: impl FnOnce() -> T) -> T {
    bars().suspend(f)
}

pub fn clear() {
    let _ = bars().clear();
}

struct SuspendingStderr;

impl Write for SuspendingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspend(|| std::io::stderr().write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

struct ProgressLayer;

#[derive(Default)]
struct Fields {
    task: Option<String>,
    total: Option<u64>,
    done: Option<u64>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "total" => self.total = Some(value),
            "done" => self.done = Some(value),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "task" {
            self.task = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "task" {
            self.task = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for ProgressLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "progress" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let bar = bars().add(ProgressBar::new(fields.total.unwrap_or(0)));
        let style = ProgressStyle::with_template(
            "{msg:>8} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(fields.task.unwrap_or_default());
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(bar);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(bar) = extensions.get::<ProgressBar>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(total) = fields.total {
            bar.set_length(total);
        }
        if let Some(done) = fields.done {
            bar.set_position(done);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(bar) = span.extensions_mut().remove::<ProgressBar>()
        {
            bar.finish_and_clear();
            bars().remove(&bar);
        }
    }
}
