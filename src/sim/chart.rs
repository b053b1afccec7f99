//! The SVG chart of a [`Report`]: four panels over time, one line per policy.

use plotters::prelude::*;

use super::SimError;
use super::report::{Report, Sample};

/// One colour per policy, in report order (colour-blind safe: Okabe–Ito).
const COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];

type Panel = (&'static str, fn(&Sample) -> f64);

const PANELS: [Panel; 4] = [
    ("Pods on burst targets", |s| s.pods_burst as f64),
    ("Pending pods (arrived, not running)", |s| s.pending as f64),
    ("VM nodes", |s| s.nodes as f64),
    ("Spend so far ($)", |s| s.spend.micros() as f64 / 1e6),
];

fn err(e: impl std::fmt::Display) -> SimError {
    SimError::Chart(e.to_string())
}

/// Draws the chart: a title, then four panels in a 2 × 2 grid sharing the time axis (hours or
/// minutes), each with a legend.
pub(crate) fn svg(report: &Report) -> Result<String, SimError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1200, 820)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title = format!("spillway what-if: {} (seed {})", report.workload, report.seed);
        let root = root.titled(&title, ("sans-serif", 22)).map_err(err)?;
        let end = report.duration_seconds.max(1) as f64;
        let (unit, scale) = if end > 3.0 * 3600.0 { ("hours", 3600.0) } else { ("minutes", 60.0) };
        for (area, (caption, value)) in root.split_evenly((2, 2)).iter().zip(PANELS) {
            let top = report.policies.iter().flat_map(|p| p.timeline.iter().map(value)).fold(0.0f64, f64::max).max(1.0)
                * 1.08;
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 17))
                .margin(12)
                .x_label_area_size(34)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..end / scale, 0.0..top)
                .map_err(err)?;
            let money = caption.starts_with("Spend");
            chart
                .configure_mesh()
                .x_desc(unit)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| if money { format!("{v:.2}") } else { format!("{v:.0}") })
                .light_line_style(RGBColor(235, 235, 235))
                .label_style(("sans-serif", 12))
                .draw()
                .map_err(err)?;
            for (i, policy) in report.policies.iter().enumerate() {
                let colour = COLOURS[i % COLOURS.len()];
                let style = ShapeStyle::from(&colour).stroke_width(2);
                chart
                    .draw_series(LineSeries::new(policy.timeline.iter().map(|s| (s.t as f64 / scale, value(s))), style))
                    .map_err(err)?
                    .label(policy.policy.name())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
            chart
                .configure_series_labels()
                // Spend only grows: its upper left corner stays clear.
                .position(if money { SeriesLabelPosition::UpperLeft } else { SeriesLabelPosition::UpperRight })
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}
