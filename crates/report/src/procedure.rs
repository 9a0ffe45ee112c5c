//! Plots of procedures whose meaning lies across metrics, which one time
//! series per metric does not show:
//!
//! - an `rrul` step as flent draws it: each TCP flow's throughput over
//!   time above the latency probes' round trips over time, on one time
//!   axis, so the moment the load starts and what it does to latency read
//!   together;
//! - an `abr` step's session: the buffer level over time above the chosen
//!   bitrate over time, with the stalls shaded in both;
//! - a search (samples labelled `trial` and `value`: each trial's samples
//!   carry the searched key's value): every ratio metric of its trials
//!   (loss) against the value tried, one point per trial, numbered. The
//!   pair is found by its labels alone, so any step that labels its
//!   samples `trial` and `value` gets the plot.
//!
//! Drawn for the first repetition of a case (later ones have the same
//! shape; their numbers are in the tables). Pure: reads the store's rows.

use std::collections::BTreeMap;

use netproof_sample::{Unit, Value};
use netproof_store::{RunData, SampleRow};
use plotters::prelude::*;

use crate::case::{CaseGroup, Index};
use crate::markup::escape;
use crate::plot::{
    self, Area, DrawResult, FAILURE, Key, LEGEND_W, PALETTE, axis_value, tick, time_range,
    value_range,
};
use crate::time;

type Points = Vec<(f64, f64)>;
/// One trial's point: the value tried, the metric, the trial's number,
/// whether the sample was ok.
type Trial = (f64, f64, String, bool);

/// The procedure plots of a case, as `<figure>` elements (empty when the
/// case ran no such procedure).
pub(crate) fn plots(data: &RunData, index: &Index, group: &CaseGroup) -> String {
    let Some(&ci) = group.reps.first() else {
        return String::new();
    };
    let case = &data.cases[ci];
    let rows: Vec<&SampleRow> = index
        .samples(Some(case.id))
        .iter()
        .map(|&i| &data.samples[i])
        .collect();
    let t = |r: &SampleRow| time::seconds_between(case.info.started, r.sample.time);
    let num = |r: &SampleRow| match r.sample.value {
        Value::Num(v) if v.is_finite() => Some(v),
        _ => None,
    };
    let label = |r: &SampleRow, k: &str| r.sample.labels.get(k).cloned();
    let mut out = String::new();

    // RRUL: steps that wrote `rrul.*`.
    let steps_of = |prefix: &str| -> Vec<String> {
        let mut v: Vec<String> = rows
            .iter()
            .filter(|r| r.sample.metric.starts_with(prefix))
            .filter_map(|r| label(r, "step"))
            .collect();
        v.dedup();
        v.sort();
        v.dedup();
        v
    };
    for step in steps_of("rrul.") {
        let mut flows: BTreeMap<String, Points> = BTreeMap::new();
        let mut rtts: BTreeMap<String, Points> = BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| label(r, "step").as_deref() == Some(&step))
        {
            let Some(v) = num(r) else { continue };
            match r.sample.metric.as_str() {
                "throughput.goodput" => {
                    let (Some(dir), Some(stream)) = (label(r, "direction"), label(r, "stream"))
                    else {
                        continue;
                    };
                    flows
                        .entry(format!("{dir} {stream}"))
                        .or_default()
                        .push((t(r), v));
                }
                "udp_echo.rtt" => rtts.entry("UDP RTT".into()).or_default().push((t(r), v)),
                "ping.rtt" => rtts.entry("ICMP RTT".into()).or_default().push((t(r), v)),
                _ => {}
            }
        }
        out.push_str(&figure(
            &format!("RRUL `{step}`"),
            &rrul(&step, &flows, &rtts),
        ));
    }

    // Streaming sessions: steps that wrote `abr.buffer`.
    for step in steps_of("abr.buffer") {
        let of = |m: &str| -> Points {
            let mut p: Points = rows
                .iter()
                .filter(|r| r.sample.metric == m && label(r, "step").as_deref() == Some(&step))
                .filter_map(|r| Some((t(r), num(r)?)))
                .collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            p
        };
        let stalls: Vec<(f64, f64)> = of("abr.stall");
        // Samples come at requests and arrivals; in a stall the buffer
        // sits at zero from its start to its end, which the line must show
        // rather than a slope across the stall.
        let mut buffer = of("abr.buffer");
        buffer.extend(
            stalls
                .iter()
                .flat_map(|&(at, len)| [(at, 0.0), (at + len, 0.0)]),
        );
        // A stall ends at the arrival that refills the buffer; the two
        // stamps agree to well under a millisecond, and the zero comes
        // first.
        let ms = |t: f64| (t * 1000.0).round();
        buffer.sort_by(|a, b| ms(a.0).total_cmp(&ms(b.0)).then(a.1.total_cmp(&b.1)));
        out.push_str(&figure(
            &format!("streaming session `{step}`"),
            &abr(&step, &buffer, &of("abr.bitrate"), &stalls),
        ));
    }

    // Searches: ratio metrics of samples labelled with a trial and a value.
    let mut trials: BTreeMap<(String, String), Vec<Trial>> = BTreeMap::new();
    let mut x_unit: BTreeMap<String, Unit> = BTreeMap::new();
    for r in &rows {
        let (Some(trial), Some(value)) = (label(r, "trial"), label(r, "value")) else {
            continue;
        };
        let Ok(x) = value.parse::<f64>() else {
            continue;
        };
        let step = label(r, "step").unwrap_or_default();
        if r.sample.metric.starts_with("search.trial_") {
            x_unit.insert(step.clone(), r.sample.unit);
        }
        if r.sample.unit == Unit::Ratio
            && let Some(y) = num(r)
        {
            trials
                .entry((step, r.sample.metric.clone()))
                .or_default()
                .push((x, y, trial, r.sample.ok));
        }
    }
    for ((step, metric), points) in &trials {
        let unit = x_unit.get(step).copied().unwrap_or(Unit::Count);
        out.push_str(&figure(
            &format!("search `{step}`: {metric} per trial"),
            &search(step, metric, unit, points),
        ));
    }
    out
}

fn figure(label: &str, svg: &str) -> String {
    format!(
        "<figure class=\"plots\" aria-label=\"{}\">\n{svg}</figure>\n",
        escape(label)
    )
}

/// Two panels sharing a time axis.
fn panels<'a>(area: &Area<'a>) -> (Area<'a>, Area<'a>) {
    let (_, h) = area.dim_in_pixel();
    area.split_vertically(h / 2)
}

/// flent's colours: downloads, uploads, then the two latency probes; each
/// direction's total (`stream = all`) thick, its flows thin.
fn rrul(step: &str, flows: &BTreeMap<String, Points>, rtts: &BTreeMap<String, Points>) -> String {
    let title = format!("RRUL `{step}`: throughput per flow and latency over time");
    let colour = |name: &str| {
        if name.starts_with("download") {
            PALETTE[0]
        } else if name.starts_with("upload") {
            PALETTE[1]
        } else if name.starts_with("UDP") {
            PALETTE[2]
        } else {
            PALETTE[3]
        }
    };
    let mut keys: Vec<(String, Key)> = Vec::new();
    for dir in ["download", "upload"] {
        if flows.keys().any(|k| k.starts_with(dir)) {
            keys.push((format!("{dir}: all, per flow"), Key::Line(colour(dir))));
        }
    }
    for name in rtts.keys() {
        keys.push((name.clone(), Key::Line(colour(name))));
    }
    let all_t = flows.values().chain(rtts.values()).flatten().map(|p| p.0);
    let (x0, x1) = time_range(all_t);
    let (t0, t1) = value_range(flows.values().flatten().map(|p| p.1));
    let (l0, l1) = value_range(rtts.values().flatten().map(|p| p.1));
    plot::render_sized(&title, &keys, 520, |area| -> DrawResult {
        let (top, bottom) = panels(&area);
        let mut chart = ChartBuilder::on(&top)
            .caption(&title, ("sans-serif", 17))
            .margin(12)
            .margin_right(LEGEND_W)
            .x_label_area_size(20)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, t0..t1)?;
        let yfmt = |y: &f64| axis_value(Unit::BitsPerSecond, *y);
        chart
            .configure_mesh()
            .y_desc("goodput")
            .y_label_formatter(&yfmt)
            .x_label_formatter(&|x: &f64| tick(*x))
            .light_line_style(RGBColor(245, 245, 245))
            .label_style(("sans-serif", 12))
            .draw()?;
        for (name, points) in flows {
            let c = colour(name);
            let style = if name.ends_with(" all") {
                c.stroke_width(2)
            } else {
                c.mix(0.45).stroke_width(1)
            };
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
        }
        let mut chart = ChartBuilder::on(&bottom)
            .margin(12)
            .margin_right(LEGEND_W)
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, l0..l1)?;
        let yfmt = |y: &f64| axis_value(Unit::Seconds, *y);
        chart
            .configure_mesh()
            .x_desc("seconds since case start")
            .y_desc("round-trip time")
            .y_label_formatter(&yfmt)
            .x_label_formatter(&|x: &f64| tick(*x))
            .light_line_style(RGBColor(245, 245, 245))
            .label_style(("sans-serif", 12))
            .draw()?;
        for (name, points) in rtts {
            chart.draw_series(
                LineSeries::new(points.iter().copied(), colour(name).stroke_width(1)).point_size(1),
            )?;
        }
        Ok(())
    })
}

fn abr(step: &str, buffer: &Points, bitrate: &Points, stalls: &Points) -> String {
    let title = format!("stream `{step}`: buffer and bitrate over time");
    let mut keys = vec![
        ("buffer".to_string(), Key::Line(PALETTE[0])),
        ("bitrate".to_string(), Key::Line(PALETTE[1])),
    ];
    if !stalls.is_empty() {
        keys.push(("stall".to_string(), Key::Line(FAILURE)));
    }
    let times = buffer
        .iter()
        .chain(bitrate)
        .map(|p| p.0)
        .chain(stalls.iter().map(|s| s.0 + s.1));
    let (x0, x1) = time_range(times);
    let (b0, b1) = value_range(buffer.iter().map(|p| p.1));
    let (r0, r1) = value_range(bitrate.iter().map(|p| p.1));
    // The bitrate holds from one request to the next: a step line.
    let mut steps: Points = Vec::new();
    for w in bitrate.windows(2) {
        steps.push(w[0]);
        steps.push((w[1].0, w[0].1));
    }
    if let Some(&last) = bitrate.last() {
        steps.push(last);
        steps.push((x1, last.1));
    }
    plot::render_sized(&title, &keys, 480, |area| -> DrawResult {
        let (top, bottom) = panels(&area);
        let shade = FAILURE.mix(0.18).filled();
        let mut chart = ChartBuilder::on(&top)
            .caption(&title, ("sans-serif", 17))
            .margin(12)
            .margin_right(LEGEND_W)
            .x_label_area_size(20)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, b0..b1)?;
        let yfmt = |y: &f64| axis_value(Unit::Seconds, *y);
        chart
            .configure_mesh()
            .y_desc("buffer (media time)")
            .y_label_formatter(&yfmt)
            .x_label_formatter(&|x: &f64| tick(*x))
            .light_line_style(RGBColor(245, 245, 245))
            .label_style(("sans-serif", 12))
            .draw()?;
        chart.draw_series(
            stalls
                .iter()
                .map(|&(at, len)| Rectangle::new([(at, b0), (at + len, b1)], shade)),
        )?;
        chart.draw_series(
            LineSeries::new(buffer.iter().copied(), PALETTE[0].stroke_width(2)).point_size(1),
        )?;
        let mut chart = ChartBuilder::on(&bottom)
            .margin(12)
            .margin_right(LEGEND_W)
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, r0..r1)?;
        let yfmt = |y: &f64| axis_value(Unit::BitsPerSecond, *y);
        chart
            .configure_mesh()
            .x_desc("seconds since case start")
            .y_desc("bitrate")
            .y_label_formatter(&yfmt)
            .x_label_formatter(&|x: &f64| tick(*x))
            .light_line_style(RGBColor(245, 245, 245))
            .label_style(("sans-serif", 12))
            .draw()?;
        chart.draw_series(
            stalls
                .iter()
                .map(|&(at, len)| Rectangle::new([(at, r0), (at + len, r1)], shade)),
        )?;
        chart.draw_series(LineSeries::new(
            steps.iter().copied(),
            PALETTE[1].stroke_width(2),
        ))?;
        Ok(())
    })
}

fn search(step: &str, metric: &str, x_unit: Unit, points: &[Trial]) -> String {
    let title = format!("search `{step}`: {metric} against the value tried");
    let keys = vec![
        ("trial".to_string(), Key::Line(PALETTE[0])),
        ("failed attempt".to_string(), Key::Cross),
    ];
    let (x0, x1) = value_range(points.iter().map(|p| p.0));
    let (y0, y1) = value_range(points.iter().map(|p| p.1).chain([0.0]));
    plot::render_sized(&title, &keys, 340, |area| -> DrawResult {
        let mut chart = ChartBuilder::on(&area)
            .caption(&title, ("sans-serif", 17))
            .margin(12)
            .margin_right(LEGEND_W)
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let xfmt = |x: &f64| axis_value(x_unit, *x);
        let yfmt = |y: &f64| axis_value(Unit::Ratio, *y);
        chart
            .configure_mesh()
            .x_desc(format!("value tried ({})", x_unit.as_str()))
            .y_desc(metric.to_string())
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .light_line_style(RGBColor(245, 245, 245))
            .label_style(("sans-serif", 12))
            .draw()?;
        chart.draw_series(points.iter().map(|(x, y, trial, ok)| {
            let style = if *ok { PALETTE[0] } else { FAILURE };
            EmptyElement::at((*x, *y))
                + Circle::new((0, 0), 4, style.filled())
                + Text::new(format!("#{trial}"), (6, -14), ("sans-serif", 11))
        }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_procedure_plot_is_an_svg_with_its_parts() {
        let flows: BTreeMap<String, Points> =
            [("upload 1".to_string(), vec![(1.0, 5e6), (1.2, 6e6)])].into();
        let rtts: BTreeMap<String, Points> =
            [("UDP RTT".to_string(), vec![(0.1, 0.01), (1.5, 0.4)])].into();
        let svg = rrul("r", &flows, &rtts);
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label=\"RRUL `r`"),
            "{svg}"
        );
        assert!(
            svg.contains("upload: all, per flow")
                && svg.contains("UDP RTT")
                && svg.contains("round-trip time")
        );

        let svg = abr(
            "play",
            &vec![(0.0, 0.0), (1.0, 2.0), (5.0, 0.0)],
            &vec![(0.0, 5e5), (1.0, 1.5e6)],
            &vec![(5.0, 2.0)],
        );
        assert!(
            svg.contains("stall") && svg.contains("bitrate") && svg.contains("<rect"),
            "{svg}"
        );

        let svg = search(
            "tput",
            "pktgen.loss",
            Unit::BitsPerSecond,
            &[(1e6, 0.0, "1".into(), true), (2e6, 0.05, "2".into(), true)],
        );
        assert!(
            svg.contains("#2") && svg.contains("value tried (bit/s)"),
            "{svg}"
        );
    }
}
