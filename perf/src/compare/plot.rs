//! The report's picture: p50 and p99 latency of each system against the
//! offered rate, one panel per scenario, as a PNG beside the markdown.
//! Text uses DejaVu Sans when installed (`fonts-dejavu-core`, which
//! `perf/scripts/run.sh` installs); without it the panels are drawn unlabelled.

use super::{Measurement, Results, System};
use crate::compare::Scenario;
use crate::stats::FLOW;
use plotters::prelude::*;
use std::path::Path;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Register the font once; false when it is not on this machine.
fn font() -> bool {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READY.get_or_init(|| match std::fs::read(FONT) {
        Ok(bytes) => {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        }
        Err(_) => false,
    })
}

fn series(results: &Results, system: &str, scenario: Scenario, p99: bool) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = results
        .runs
        .iter()
        .filter(|m: &&Measurement| m.system == system && m.scenario == scenario)
        .filter_map(|m| {
            let l = m.summary.latency.get(FLOW)?;
            let us = if p99 { l.p99_us } else { l.p50_us };
            Some((m.summary.offered_rate, (us as f64 / 1000.0).max(0.001)))
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Draw `results` for `scenarios` into `path` (PNG).
pub fn png(results: &Results, scenarios: &[Scenario], path: &Path) -> Result<(), String> {
    let labelled = font();
    let panels = scenarios.len().max(1);
    let root = BitMapBackend::new(path, (640 * panels as u32, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    for (area, &scenario) in root.split_evenly((1, panels)).iter().zip(scenarios) {
        let all: Vec<(f64, f64)> = [System::Riptide, System::Kamailio]
            .iter()
            .flat_map(|s| series(results, s.name(), scenario, true))
            .collect();
        let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max) * 1.05;
        let y_max = all.iter().map(|p| p.1).fold(1.0, f64::max) * 2.0;
        let mut b = ChartBuilder::on(area);
        b.margin(15);
        if labelled {
            b.caption(
                format!("{}: latency against offered load", scenario.name()),
                ("sans-serif", 18),
            )
            .x_label_area_size(40)
            .y_label_area_size(55);
        }
        let mut chart = b
            .build_cartesian_2d(0.0..x_max, (0.001..y_max).log_scale())
            .map_err(|e| e.to_string())?;
        if labelled {
            chart
                .configure_mesh()
                .x_desc("offered flows/s")
                .y_desc("latency, ms (log)")
                .draw()
                .map_err(|e| e.to_string())?;
        }
        for (system, color) in [(System::Riptide, RED), (System::Kamailio, BLUE)] {
            for (p99, style) in [
                (true, color.stroke_width(3)),
                (false, color.stroke_width(1)),
            ] {
                let pts = series(results, system.name(), scenario, p99);
                let line = chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(|e| e.to_string())?;
                if labelled {
                    let name = format!("{} {}", system.name(), if p99 { "p99" } else { "p50" });
                    line.label(name)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
                chart
                    .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                    .map_err(|e| e.to_string())?;
            }
        }
        if labelled {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}
