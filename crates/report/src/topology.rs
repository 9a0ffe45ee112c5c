//! The topology diagram: nodes as labelled boxes, links as labelled lines.
//!
//! Drawn by hand as inline SVG (plotters is for charts, not graphs). Nodes
//! sit on an ellipse in plan order (two nodes side by side), which is
//! deterministic and readable up to a few dozen nodes; each box shows the
//! node's name, role, services and addresses. Each link is a line between
//! its two nodes labelled with its properties and the mechanism that
//! applied them (`emulator`, `tbf`, `none`); parallel links between the same
//! pair bow apart so their labels do not overlap. A link naming a node the
//! topology lacks is not drawn (the links table beside the diagram still
//! lists it). All text is escaped.

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::fmt::Write as _;

use netproof_store::{Topology, TopologyNode};

use crate::markup::escape;

const BOX_W: f64 = 200.0;
const LINE_H: f64 = 15.0;
const MARGIN: f64 = 24.0;
const MAX_ADDRESSES: usize = 4;
const MAX_CHARS: usize = 30;

/// The diagram as an `<svg>` element, or `None` when there are no nodes.
pub(crate) fn diagram(topology: &Topology) -> Option<String> {
    let n = topology.nodes.len();
    if n == 0 {
        return None;
    }
    let lines: Vec<Vec<Line>> = topology.nodes.iter().map(node_lines).collect();
    let heights: Vec<f64> = lines
        .iter()
        .map(|l| 12.0 + LINE_H * l.len() as f64)
        .collect();
    let max_h = heights.iter().copied().fold(0.0, f64::max);
    let centres = layout(n, max_h);
    let (min_x, max_x, min_y, max_y) = centres.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let width = (max_x - min_x) + BOX_W + 2.0 * MARGIN;
    let height = (max_y - min_y) + max_h + 2.0 * MARGIN + 20.0;
    let shift = (
        MARGIN + BOX_W / 2.0 - min_x,
        MARGIN + max_h / 2.0 - min_y + 10.0,
    );
    let pos: Vec<(f64, f64)> = centres
        .iter()
        .map(|&(x, y)| (x + shift.0, y + shift.1))
        .collect();
    let by_name: BTreeMap<&str, usize> = topology
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.name.as_str(), i))
        .collect();

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"topology\" role=\"img\" aria-label=\"topology diagram\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\">",
        w = width,
        h = height
    );
    // Links first so the boxes cover their ends; labels last, on top.
    let mut pairs: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut labels = String::new();
    for link in &topology.links {
        let (Some(&a), Some(&b)) = (
            by_name.get(link.ends[0].as_str()),
            by_name.get(link.ends[1].as_str()),
        ) else {
            continue;
        };
        if a == b {
            continue;
        }
        let k = pairs.entry((a.min(b), a.max(b))).or_default();
        let bow = bow_offset(*k);
        *k += 1;
        let ((x1, y1), (x2, y2)) = (pos[a], pos[b]);
        let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let len = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt().max(1.0);
        let (nx, ny) = (-(y2 - y1) / len, (x2 - x1) / len);
        let (cx, cy) = (mx + nx * bow * 2.0, my + ny * bow * 2.0);
        let m = link.mechanism.as_str();
        let emulated = !(m.is_empty()
            || m.starts_with("none")
            || (m.starts_with("veth") && !m.contains("tbf")));
        let dash = if emulated {
            ""
        } else {
            " stroke-dasharray=\"6 4\""
        };
        let title = format!(
            "{} — {}: {} [{}]",
            link.ends[0],
            link.ends[1],
            if link.properties.is_empty() {
                "unimpaired"
            } else {
                &link.properties
            },
            link.mechanism
        );
        let _ = writeln!(
            svg,
            "<path d=\"M {x1:.1} {y1:.1} Q {cx:.1} {cy:.1} {x2:.1} {y2:.1}\" fill=\"none\" stroke=\"#56606b\" stroke-width=\"2\"{dash}><title>{}</title></path>",
            escape(&title)
        );
        // The curve's midpoint, where its label goes.
        let (lx, ly) = (mx + nx * bow, my + ny * bow);
        let props = if link.properties.is_empty() {
            "unimpaired".to_string()
        } else {
            link.properties.clone()
        };
        let props = clip(&props, 40);
        let mech = format!("[{}]", clip(&link.mechanism, 20));
        // A light box behind the label keeps it readable over the line.
        let chars = props.chars().count().max(mech.chars().count()) as f64;
        let bw = chars * 6.4 + 10.0;
        let _ = writeln!(
            labels,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"28\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\"/>",
            lx - bw / 2.0,
            ly - 15.0
        );
        let _ = writeln!(
            labels,
            "<text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#1f2a36\">{}</text>",
            ly - 3.0,
            escape(&props)
        );
        let _ = writeln!(
            labels,
            "<text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#5a6570\">{}</text>",
            ly + 10.0,
            escape(&mech)
        );
    }
    for (i, node) in topology.nodes.iter().enumerate() {
        let (cx, cy) = pos[i];
        let h = heights[i];
        let (x, y) = (cx - BOX_W / 2.0, cy - h / 2.0);
        let router = node.role == "router";
        let fill = if router { "#fdf3e1" } else { "#e8f1fb" };
        let stroke = if router { "#c98a1b" } else { "#3a78b5" };
        let _ = writeln!(svg, "<g><title>{}</title>", escape(&node_title(node)));
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_W:.0}\" height=\"{h:.1}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/>"
        );
        for (j, line) in lines[i].iter().enumerate() {
            let ty = y + 18.0 + LINE_H * j as f64;
            let style = match line.kind {
                LineKind::Name => "font-size=\"13\" font-weight=\"bold\" fill=\"#111\"",
                LineKind::Role => "font-size=\"11\" fill=\"#555\"",
                LineKind::Address => "font-size=\"11\" font-family=\"monospace\" fill=\"#222\"",
            };
            let _ = writeln!(
                svg,
                "<text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\" {style}>{}</text>",
                escape(&line.text)
            );
        }
        svg.push_str("</g>\n");
    }
    svg.push_str(&labels);
    svg.push_str("</svg>\n");
    Some(svg)
}

/// Positions of `n` box centres: a row for one or two, else an ellipse.
fn layout(n: usize, max_h: f64) -> Vec<(f64, f64)> {
    if n <= 2 {
        return (0..n).map(|i| (i as f64 * (BOX_W + 220.0), 0.0)).collect();
    }
    let circumference = n as f64 * (BOX_W + 60.0);
    let rx = (circumference / (2.0 * PI) * 1.25).max(BOX_W + 40.0);
    let ry = (rx * 0.55).max(max_h + 50.0);
    (0..n)
        .map(|i| {
            let a = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
            (rx * a.cos(), ry * a.sin())
        })
        .collect()
}

/// 0, +22, -22, +44, ...: how far the k-th parallel link bows.
fn bow_offset(k: usize) -> f64 {
    let step = (k.div_ceil(2)) as f64 * 22.0;
    if k % 2 == 1 { step } else { -step }
}

enum LineKind {
    Name,
    Role,
    Address,
}

struct Line {
    kind: LineKind,
    text: String,
}

fn node_lines(node: &TopologyNode) -> Vec<Line> {
    let mut out = vec![Line {
        kind: LineKind::Name,
        text: clip(&node.name, MAX_CHARS - 4),
    }];
    let mut role = node.role.clone();
    if !node.services.is_empty() {
        role = format!("{role} · {}", node.services.join(", "));
    }
    out.push(Line {
        kind: LineKind::Role,
        text: clip(&role, MAX_CHARS + 4),
    });
    for a in node.addresses.iter().take(MAX_ADDRESSES) {
        out.push(Line {
            kind: LineKind::Address,
            text: clip(a, MAX_CHARS),
        });
    }
    if node.addresses.len() > MAX_ADDRESSES {
        out.push(Line {
            kind: LineKind::Role,
            text: format!("+{} more", node.addresses.len() - MAX_ADDRESSES),
        });
    }
    out
}

fn node_title(node: &TopologyNode) -> String {
    let mut t = format!("{} ({})", node.name, node.role);
    if !node.services.is_empty() {
        let _ = write!(t, "\nservices: {}", node.services.join(", "));
    }
    for a in &node.addresses {
        let _ = write!(t, "\n{a}");
    }
    for (k, v) in &node.sysctls {
        let _ = write!(t, "\n{k} = {v}");
    }
    t
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_store::TopologyLink;

    fn node(name: &str, role: &str) -> TopologyNode {
        TopologyNode {
            name: name.to_string(),
            role: role.to_string(),
            addresses: vec!["198.18.0.1/31".to_string()],
            services: vec![],
            sysctls: vec![],
        }
    }

    fn link(a: &str, b: &str, props: &str) -> TopologyLink {
        TopologyLink {
            ends: [a.to_string(), b.to_string()],
            mechanism: "emulator".to_string(),
            properties: props.to_string(),
        }
    }

    #[test]
    fn empty_topology_has_no_diagram() {
        assert_eq!(diagram(&Topology::default()), None);
    }

    #[test]
    fn nodes_and_links_are_labelled_and_escaped() {
        let t = Topology {
            nodes: vec![
                node("a<b>", "host"),
                node("r1", "router"),
                node("c", "host"),
            ],
            links: vec![
                link("a<b>", "r1", "delay 8ms, loss 0.1%"),
                link("a<b>", "r1", ""),
                link("r1", "ghost", "delay 1ms"),
            ],
        };
        let svg = diagram(&t).unwrap();
        assert!(svg.contains("a&lt;b&gt;"));
        assert!(!svg.contains("a<b>"));
        assert!(svg.contains("delay 8ms, loss 0.1%"));
        assert!(svg.contains("[emulator]"));
        assert!(svg.contains("198.18.0.1/31"));
        // Two drawn links (the ghost one is skipped), three boxes.
        assert_eq!(svg.matches("<path").count(), 2);
        // Three node boxes and two label backgrounds.
        assert_eq!(svg.matches("<rect").count(), 5);
    }

    #[test]
    fn long_names_are_clipped() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(bow_offset(0), 0.0);
        assert_eq!(bow_offset(1), 22.0);
        assert_eq!(bow_offset(2), -22.0);
    }
}
