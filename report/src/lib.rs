//! `ferry report`: what a bundle holds, and with a base what changed, gathered from the bundle
//! (its index, manifests, charts and image layers, read streaming) and written as one
//! self-contained HTML page: no network, no external script, style or font.

pub mod gather;
mod html;
pub mod model;
mod page;

pub use gather::{Input, ReportError, gather};
pub use model::Report;

/// The report as one HTML page; `tool` names the ferry that made it (`ferry 0.1.0`).
pub fn render_html(report: &Report, tool: &str) -> String {
    page::render(report, tool)
}
