//! `latency.svg`: the streamer's capture-to-receiver latency per
//! configuration, written by hand (no plotting dependency).
//!
//! rtp_receiver_tester reports the distribution as min, p50, mean, p99, max
//! and a sample count, not per-unit samples, so a histogram or a full CDF
//! cannot be drawn without inventing data; the plot shows exactly those
//! five figures per configuration: a whisker from min to max, a box from
//! p50 to p99, a bar at p50 and a dot at the mean.

use std::fmt::Write;

use crate::model::Latency;

/// One row of the plot.
pub struct Series<'a> {
    pub label: String,
    pub latency: Option<&'a Latency>,
    /// Shown instead of the bars when there is no latency.
    pub note: String,
}

const WIDTH: f64 = 1040.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 290.0;
const TOP: f64 = 78.0;
const ROW: f64 = 44.0;
const BOTTOM: f64 = 58.0;

/// Escapes text for an XML text node or attribute.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round axis maximum and tick step (1, 2 or 5 times a power of ten)
/// giving at most about eight ticks.
fn axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 8.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    // The epsilon keeps 1.0 / 0.2 (= 5.000000000000001) at 5 steps.
    (((max / step) - 1e-9).ceil() * step, step)
}

/// Decimals that print every tick of `step` exactly (0.2 -> 1, 5 -> 0).
fn decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    }
}

pub fn render(title: &str, series: &[Series]) -> String {
    let max = series
        .iter()
        .filter_map(|s| s.latency.map(|l| l.max))
        .fold(0.0, f64::max);
    let (axis_max, step) = axis(max);
    let rows = series.len().max(1) as f64;
    let height = TOP + rows * ROW + BOTTOM;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |ms: f64| LEFT + (ms.max(0.0) / axis_max) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="44" fill="#555">whisker: min to max; box: p50 to p99; bar: p50; dot: mean (the receiver reports these five figures, not per-unit samples)</text>"##
    );
    // Grid and tick labels.
    let bottom = TOP + rows * ROW;
    let ticks = (axis_max / step).round() as u32;
    let d = decimals(step);
    for k in 0..=ticks {
        let t = f64::from(k) * step;
        let xt = x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{xt:.1}" y1="{TOP}" x2="{xt:.1}" y2="{bottom}" stroke="#ddd"/><text x="{xt:.1}" y="{:.1}" text-anchor="middle" fill="#333">{t:.d$}</text>"##,
            bottom + 16.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">capture-to-receiver latency (ms)</text>"#,
        LEFT + plot_w / 2.0,
        bottom + 38.0
    );
    for (i, se) in series.iter().enumerate() {
        let yc = TOP + ROW * (i as f64 + 0.5);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 10.0,
            yc + 4.0,
            esc(&se.label)
        );
        let Some(l) = se.latency else {
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" fill="#a00">{}</text>"##,
                LEFT + 6.0,
                yc + 4.0,
                esc(&se.note)
            );
            continue;
        };
        let (xmin, xmax, x50, x99) = (x(l.min), x(l.max), x(l.p50), x(l.p99));
        let _ = writeln!(
            s,
            r##"<line x1="{xmin:.1}" y1="{yc:.1}" x2="{xmax:.1}" y2="{yc:.1}" stroke="#666"/><line x1="{xmin:.1}" y1="{:.1}" x2="{xmin:.1}" y2="{:.1}" stroke="#666"/><line x1="{xmax:.1}" y1="{:.1}" x2="{xmax:.1}" y2="{:.1}" stroke="#666"/>"##,
            yc - 6.0,
            yc + 6.0,
            yc - 6.0,
            yc + 6.0
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x50:.1}" y="{:.1}" width="{:.1}" height="18" fill="#9ecae1" stroke="#3182bd"/><line x1="{x50:.1}" y1="{:.1}" x2="{x50:.1}" y2="{:.1}" stroke="#08519c" stroke-width="3"/><circle cx="{:.1}" cy="{yc:.1}" r="3.5" fill="#e6550d"/>"##,
            yc - 9.0,
            (x99 - x50).max(1.0),
            yc - 11.0,
            yc + 11.0,
            x(l.mean)
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">p50 {:.1} · p99 {:.1} · max {:.1} ms (n={})</text>"#,
            WIDTH - RIGHT + 12.0,
            yc + 4.0,
            l.p50,
            l.p99,
            l.max,
            l.samples
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(axis(9.3), (10.0, 2.0));
        assert_eq!(axis(47.0), (50.0, 10.0));
        let (max, step) = axis(0.0);
        assert!((max - 1.0).abs() < 1e-9 && (step - 0.2).abs() < 1e-9);
        assert_eq!((decimals(0.2), decimals(5.0), decimals(0.05)), (1, 0, 2));
    }

    #[test]
    fn renders_rows_and_escapes() {
        let l = Latency {
            p50: 4.8,
            p99: 8.7,
            min: 3.1,
            max: 12.0,
            mean: 5.0,
            samples: 285,
        };
        let svg = render(
            "a & b",
            &[
                Series {
                    label: "640x360 h264".into(),
                    latency: Some(&l),
                    note: String::new(),
                },
                Series {
                    label: "1920x1080 h265".into(),
                    latency: None,
                    note: "not measured: <why>".into(),
                },
            ],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &amp; b") && svg.contains("&lt;why&gt;"));
        assert!(svg.contains("p50 4.8 · p99 8.7"));
    }
}
