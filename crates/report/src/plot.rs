//! Time-series and CDF plots as inline SVG, drawn with plotters.
//!
//! Each plot is a complete `<svg>` element written to a `String` by
//! plotters' SVG backend, ready to inline in the HTML report. Text uses
//! plotters' naive layout (the `ttf` feature is off), which estimates label
//! widths and lets the browser render the `<text>` elements itself; that is
//! all an SVG needs. Axis ticks are formatted in the metric's unit
//! ([`Unit::format`]).
//!
//! Plots stay small however long a run was: a time series keeps at most
//! [`MAX_POINTS`] points per repetition (the minimum and maximum of each
//! time bucket, so spikes survive), a CDF at most [`MAX_QUANTILES`] steps.
//! A plot that cannot be drawn becomes a short note, never a panic.

use std::fmt::Write as _;

use netproof_sample::Unit;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::markup::escape;
use crate::series::MetricSeries;

/// The most points a time series draws per repetition.
pub(crate) const MAX_POINTS: usize = 1500;
/// The most steps a CDF draws per repetition.
pub(crate) const MAX_QUANTILES: usize = 400;

pub(crate) const WIDTH: u32 = 760;
/// Room right of the plot for the legend.
pub(crate) const LEGEND_W: u32 = 180;
const HEIGHT: u32 = 320;

/// Repetition colours; red is kept for failed attempts.
pub(crate) const PALETTE: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
pub(crate) const FAILURE: RGBColor = RGBColor(214, 39, 40);
const MARKER: RGBColor = RGBColor(110, 110, 110);

/// An event drawn as a vertical line on a time series.
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    /// Which repetition (index into the series' `reps`) it belongs to.
    pub rep: usize,
    /// Seconds since that repetition started.
    pub t: f64,
}

pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// What a legend entry shows beside its label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key {
    Line(RGBColor),
    Cross,
    Marker,
}

/// Value against time, one line per repetition, failed attempts as red
/// crosses on the x axis, events as vertical lines.
pub(crate) fn time_series(series: &MetricSeries, x_desc: &str, markers: &[Marker]) -> String {
    let reps: Vec<Vec<(f64, f64)>> = series
        .reps
        .iter()
        .map(|r| {
            let mut p = r.points.clone();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            thin(&p, MAX_POINTS)
        })
        .collect();
    let failures: Vec<f64> = series
        .reps
        .iter()
        .flat_map(|r| r.failures.iter().copied())
        .filter(|t| t.is_finite())
        .collect();
    let markers: Vec<&Marker> = markers.iter().filter(|m| m.t.is_finite()).collect();
    let times = reps
        .iter()
        .flatten()
        .map(|p| p.0)
        .chain(failures.iter().copied())
        .chain(markers.iter().map(|m| m.t));
    let (x0, x1) = time_range(times);
    let (y0, y1) = value_range(reps.iter().flatten().map(|p| p.1));
    let unit = series.unit;
    let multi = series.reps.len() > 1;

    let mut keys: Vec<(String, Key)> = Vec::new();
    if multi {
        for (i, r) in series.reps.iter().enumerate() {
            keys.push((r.label.clone(), Key::Line(PALETTE[i % PALETTE.len()])));
        }
    }
    if !failures.is_empty() {
        keys.push(("failed attempt".to_string(), Key::Cross));
    }
    if !markers.is_empty() {
        keys.push(("event".to_string(), Key::Marker));
    }
    let title = format!("{} over time", series.title());
    render(&title, &keys, |area| {
        let mut chart = ChartBuilder::on(&area)
            .caption(&title, ("sans-serif", 17))
            .margin(12)
            .margin_right(if keys.is_empty() { 12 } else { LEGEND_W })
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let xfmt = |x: &f64| tick(*x);
        let yfmt = |y: &f64| axis_value(unit, *y);
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(format!("{} ({})", series.metric, unit.as_str()))
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .light_line_style(RGBColor(245, 245, 245))
            .max_light_lines(2)
            .label_style(("sans-serif", 12))
            .draw()?;
        for marker in &markers {
            let color = if multi {
                PALETTE[marker.rep % PALETTE.len()].mix(0.6)
            } else {
                MARKER.mix(0.8)
            };
            chart.draw_series(LineSeries::new(
                [(marker.t, y0), (marker.t, y1)],
                color.stroke_width(1),
            ))?;
        }
        for (i, points) in reps.iter().enumerate() {
            if points.is_empty() {
                continue;
            }
            let color = PALETTE[i % PALETTE.len()];
            let dots = if points.len() <= 300 { 2 } else { 0 };
            chart.draw_series(
                LineSeries::new(points.iter().copied(), color.stroke_width(1)).point_size(dots),
            )?;
        }
        chart.draw_series(
            failures
                .iter()
                .map(|&t| Cross::new((t, y0), 4, FAILURE.stroke_width(2))),
        )?;
        Ok(())
    })
}

/// The empirical CDF of the numeric values, one step line per repetition.
pub(crate) fn cdf(series: &MetricSeries) -> String {
    let reps: Vec<Vec<(f64, f64)>> = series
        .reps
        .iter()
        .map(|r| {
            let mut v: Vec<f64> = r.points.iter().map(|p| p.1).collect();
            v.sort_by(f64::total_cmp);
            steps(&v, MAX_QUANTILES)
        })
        .collect();
    let (x0, x1) = value_range(reps.iter().flatten().map(|p| p.0));
    let unit = series.unit;
    let keys: Vec<(String, Key)> = if series.reps.len() > 1 {
        series
            .reps
            .iter()
            .enumerate()
            .map(|(i, r)| (r.label.clone(), Key::Line(PALETTE[i % PALETTE.len()])))
            .collect()
    } else {
        Vec::new()
    };
    let title = format!("{} distribution (CDF)", series.title());
    render(&title, &keys, |area| {
        let mut chart = ChartBuilder::on(&area)
            .caption(&title, ("sans-serif", 17))
            .margin(12)
            .margin_right(if keys.is_empty() { 12 } else { LEGEND_W })
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0.0..1.0)?;
        let xfmt = |x: &f64| axis_value(unit, *x);
        let yfmt = |y: &f64| format!("{:.0} %", y * 100.0);
        chart
            .configure_mesh()
            .x_desc(format!("{} ({})", series.metric, unit.as_str()))
            .y_desc("fraction of samples ≤ x")
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .light_line_style(RGBColor(245, 245, 245))
            .max_light_lines(2)
            .label_style(("sans-serif", 12))
            .draw()?;
        for (i, points) in reps.iter().enumerate() {
            if points.is_empty() {
                continue;
            }
            let color = PALETTE[i % PALETTE.len()];
            chart.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?;
        }
        Ok(())
    })
}

/// The legend as plain SVG in the margin right of the plot, where it never
/// hides data. (plotters' own legend clips its keys to the plotting area.)
fn legend(keys: &[(String, Key)]) -> String {
    let x = f64::from(WIDTH - LEGEND_W) + 14.0;
    let mut out = String::new();
    for (i, (label, key)) in keys.iter().enumerate() {
        let y = 56.0 + 18.0 * i as f64;
        let shape = match key {
            Key::Line(c) => format!(
                "<line x1=\"{x}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#{:02x}{:02x}{:02x}\" stroke-width=\"2\"/>",
                x + 18.0,
                c.0,
                c.1,
                c.2
            ),
            Key::Cross => format!(
                "<path d=\"M {} {} l 8 8 m 0 -8 l -8 8\" stroke=\"#{:02x}{:02x}{:02x}\" stroke-width=\"2\"/>",
                x + 5.0,
                y - 4.0,
                FAILURE.0,
                FAILURE.1,
                FAILURE.2
            ),
            Key::Marker => format!(
                "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#6e6e6e\" stroke-width=\"1\"/>",
                x + 9.0,
                y - 7.0,
                y + 7.0
            ),
        };
        let _ = write!(
            out,
            "{shape}\n<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"12\" fill=\"#222\">{}</text>\n",
            x + 26.0,
            y + 4.0,
            escape(label)
        );
    }
    out
}

/// Draws into a fresh SVG and adds the legend; on failure returns a note
/// saying why.
fn render(
    title: &str,
    keys: &[(String, Key)],
    draw: impl FnOnce(Area<'_>) -> DrawResult,
) -> String {
    render_sized(title, keys, HEIGHT, draw)
}

/// [`render`] at `height` pixels (plots of stacked panels are taller).
pub(crate) fn render_sized(
    title: &str,
    keys: &[(String, Key)],
    height: u32,
    draw: impl FnOnce(Area<'_>) -> DrawResult,
) -> String {
    let mut buf = String::new();
    let outcome = {
        let area = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        area.fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(area.clone()))
            .and_then(|()| area.present().map_err(Into::into))
    };
    match outcome {
        Ok(()) => {
            if let Some(end) = buf.rfind("</svg>") {
                buf.insert_str(end, &legend(keys));
            }
            // An accessible name; plotters writes a bare <svg>.
            let label = format!("<svg role=\"img\" aria-label=\"{}\" ", escape(title));
            buf.replacen("<svg ", &label, 1)
        }
        Err(e) => format!(
            "<p class=\"note\">The plot “{}” could not be drawn: {}</p>",
            escape(title),
            escape(&e.to_string())
        ),
    }
}

/// At most `max` points: the lowest and highest value of each of `max / 2`
/// equal runs of points, in time order, so peaks and dips survive.
pub(crate) fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    let buckets = (max / 2).max(1);
    if points.len() <= max {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(buckets * 2);
    for b in 0..buckets {
        let lo = b * points.len() / buckets;
        let hi = ((b + 1) * points.len() / buckets).min(points.len());
        let chunk = &points[lo..hi];
        let (Some(min), Some(max)) = (
            chunk.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
            chunk.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
        ) else {
            continue;
        };
        if min.0 <= max.0 {
            out.extend([*min, *max]);
        } else {
            out.extend([*max, *min]);
        }
    }
    out.dedup_by(|a, b| a == b);
    out
}

/// The CDF of sorted `values` as a step line of at most about `max` steps.
pub(crate) fn steps(sorted: &[f64], max: usize) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let stride = n.div_ceil(max.max(1)).max(1);
    let mut out = Vec::new();
    let mut prev = 0.0;
    let mut i = stride - 1;
    loop {
        let i_clamped = i.min(n - 1);
        let x = sorted[i_clamped];
        let y = (i_clamped + 1) as f64 / n as f64;
        out.push((x, prev));
        out.push((x, y));
        prev = y;
        if i_clamped == n - 1 {
            break;
        }
        i += stride;
    }
    out
}

/// An x range covering every time, starting at 0 unless something came
/// earlier, never empty.
pub(crate) fn time_range(times: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = times
        .filter(|t| t.is_finite())
        .fold((0.0f64, 0.0f64), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if hi - lo < 1e-9 {
        (lo, lo + 1.0)
    } else {
        (lo, hi + (hi - lo) * 0.02)
    }
}

/// A value range with a little headroom; from zero when every value is
/// positive (an honest latency axis), never empty.
pub(crate) fn value_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if lo >= 0.0 && lo <= hi * 0.5 {
        lo = 0.0;
    }
    let span = hi - lo;
    if span <= hi.abs() * 1e-9 || span == 0.0 {
        // One distinct value: show it with room around, from zero when it
        // is not negative.
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        let lo = if lo >= 0.0 { 0.0 } else { lo - pad };
        return (lo, hi + pad);
    }
    let lo = if lo == 0.0 { 0.0 } else { lo - span * 0.05 };
    (lo, hi + span * 0.08)
}

/// A value tick in the metric's unit; counts (codes, packets) only at
/// whole numbers.
pub(crate) fn axis_value(unit: Unit, v: f64) -> String {
    if unit != Unit::Count {
        unit.format(v)
    } else if (v - v.round()).abs() > 1e-6 * v.abs().max(1.0) {
        String::new()
    } else {
        // Tick positions accumulate float error (0.9999999 for 1).
        unit.format(v.round())
    }
}

/// A time tick: `0`, `2.5`, `10`.
pub(crate) fn tick(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::RepSeries;

    fn series(reps: Vec<Vec<(f64, f64)>>) -> MetricSeries {
        MetricSeries {
            metric: "tcp_connect.latency".to_string(),
            step: "connect".to_string(),
            unit: Unit::Seconds,
            reps: reps
                .into_iter()
                .enumerate()
                .map(|(i, points)| RepSeries {
                    label: format!("rep {}", i + 1),
                    attempts: points.len() as u64,
                    ok: points.len() as u64,
                    points,
                    failures: vec![0.5],
                })
                .collect(),
        }
    }

    #[test]
    fn plots_are_svg_with_text_labels() {
        let s = series(vec![
            vec![(0.0, 0.004), (0.1, 0.0042), (0.2, 0.0039)],
            vec![(0.0, 0.005), (0.1, 0.006)],
        ]);
        let svg = time_series(
            &s,
            "seconds since case start",
            &[Marker { rep: 1, t: 0.15 }],
        );
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(svg.contains("<text"), "axis labels are drawn as text");
        assert!(svg.contains("ms"), "ticks are in the metric's unit");
        assert!(svg.contains("rep 2"));
        assert!(svg.contains(">failed attempt</text>"), "legend");
        assert!(svg.trim_end().ends_with("</svg>"));
        let svg = cdf(&s);
        assert!(svg.contains("<svg") && svg.contains("CDF"));
    }

    #[test]
    fn degenerate_series_still_draw() {
        for reps in [
            vec![],
            vec![vec![]],
            vec![vec![(0.0, 0.0)]],
            vec![vec![(3.0, 7.0)]],
        ] {
            let s = series(reps);
            assert!(time_series(&s, "s", &[]).contains("<svg"));
            assert!(cdf(&s).contains("<svg"));
        }
    }

    #[test]
    fn thinning_keeps_extremes() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 5_000 { 100.0 } else { 1.0 }))
            .collect();
        let t = thin(&points, 100);
        assert!(t.len() <= 100);
        assert!(t.iter().any(|p| p.1 == 100.0));
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn cdf_steps_reach_one() {
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        let s = steps(&v, 100);
        assert!(s.len() <= 202);
        assert_eq!(s.last(), Some(&(1000.0, 1.0)));
        assert_eq!(steps(&[2.0], 10), vec![(2.0, 0.0), (2.0, 1.0)]);
    }

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(value_range([0.0, 0.0].into_iter()), (0.0, 1.0));
        assert_eq!(value_range([-2.0].into_iter()), (-2.2, -1.8));
        let (lo, hi) = value_range([5.0].into_iter());
        assert!(lo < 5.0 && hi > 5.0);
        assert_eq!(value_range(std::iter::empty()), (0.0, 1.0));
        assert_eq!(time_range(std::iter::empty()), (0.0, 1.0));
        assert_eq!(tick(2.50), "2.5");
        assert_eq!(tick(-0.001), "0");
    }
}
