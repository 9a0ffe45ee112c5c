//! The topology diagram: nodes as labelled boxes, links as labelled lines.
//!
//! Drawn by hand as inline SVG (plotters is for charts, not graphs). Nodes
//! are laid out in layers, as layered graph drawing does (Sugiyama et al.,
//! 1981, reduced to what a lab needs): each connected part of the lab is
//! walked breadth first from its best-connected node (a core router, as a
//! rule), each hop is a row, and a row's nodes are ordered by where their
//! neighbours in the row above sit (barycentres, a sweep down then up), so
//! links mostly run down and rarely cross. A row holds at most
//! [`MAX_COLUMNS`] boxes and wraps beyond, so the drawing's width is capped
//! (about 1 250 px) whatever the lab's size and it grows only downwards;
//! nodes without links share rows at the bottom;
//! past [`MAX_DRAWN`] nodes there is no drawing and the report lists the
//! nodes in a table instead. Deterministic: plan order breaks every tie.
//! Each box shows the node's name, role, services and addresses. Each link is a line between
//! its two nodes labelled with its properties and the mechanism that
//! applied them (`emulator`, `tbf`, `none`); parallel links between the same
//! pair bow apart so their labels do not overlap. A link naming a node the
//! topology lacks is not drawn (the links table beside the diagram still
//! lists it). All text is escaped.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use netproof_store::{Topology, TopologyNode};

use crate::markup::escape;

const BOX_W: f64 = 200.0;
const LINE_H: f64 = 15.0;
const MARGIN: f64 = 24.0;
const MAX_ADDRESSES: usize = 4;
const MAX_CHARS: usize = 30;
/// Boxes per row: five 200 px boxes and their gaps fit a 1 280 px window.
pub(crate) const MAX_COLUMNS: usize = 5;
const COL_GAP: f64 = 40.0;
const ROW_GAP: f64 = 90.0;
/// The widest a row of boxes gets (five boxes and their gaps).
const MAX_WIDTH: f64 = 1160.0;
/// Past this many nodes a drawing is no longer readable: the report shows
/// tables only.
pub(crate) const MAX_DRAWN: usize = 80;
/// Past this many links, unimpaired ones go unlabelled.
const BUSY_LINKS: usize = 12;

/// The diagram as an `<svg>` element, or `None` when there are no nodes
/// or more than [`MAX_DRAWN`].
pub(crate) fn diagram(topology: &Topology) -> Option<String> {
    let n = topology.nodes.len();
    if n == 0 || n > MAX_DRAWN {
        return None;
    }
    let lines: Vec<Vec<Line>> = topology.nodes.iter().map(node_lines).collect();
    let heights: Vec<f64> = lines
        .iter()
        .map(|l| 12.0 + LINE_H * l.len() as f64)
        .collect();
    let max_h = heights.iter().copied().fold(0.0, f64::max);
    let centres = layout(topology, max_h);
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
    // Links first so the boxes cover their ends, then their labels, then
    // the boxes.
    let busy = topology.links.len() > BUSY_LINKS;
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
        let mut bow = bow_offset(*k);
        *k += 1;
        let ((x1, y1), (x2, y2)) = (pos[a], pos[b]);
        // Within one row, a link past a neighbour's box arcs above the row
        // instead of running through the boxes between.
        if (y1 - y2).abs() < 1.0 && (x1 - x2).abs() > 2.0 * BOX_W + COL_GAP {
            let up = (max_h / 2.0 + ROW_GAP / 2.0) * if x2 > x1 { 1.0 } else { -1.0 };
            bow -= up;
        }
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
        // In a busy drawing only impaired links are labelled (the links
        // table and each line's tooltip give the rest).
        if busy && link.properties.is_empty() {
            continue;
        }
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
    // Labels under the boxes: a node's name is never hidden by a label.
    svg.push_str(&labels);
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
    svg.push_str("</svg>\n");
    Some(svg)
}

/// Box centres, one per node in plan order: layers of a breadth-first
/// walk, ordered by barycentres, wrapped at [`MAX_COLUMNS`], each
/// connected part below the one before.
fn layout(topology: &Topology, max_h: f64) -> Vec<(f64, f64)> {
    let n = topology.nodes.len();
    let index: BTreeMap<&str, usize> = topology
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.name.as_str(), i))
        .collect();
    let mut adjacent = vec![Vec::new(); n];
    for link in &topology.links {
        if let (Some(&a), Some(&b)) = (
            index.get(link.ends[0].as_str()),
            index.get(link.ends[1].as_str()),
        ) && a != b
        {
            adjacent[a].push(b);
            adjacent[b].push(a);
        }
    }
    for list in &mut adjacent {
        list.sort_unstable();
        list.dedup();
    }
    let rows = rows(&adjacent);
    let row_h = max_h + ROW_GAP;
    // Rows narrower than five boxes spread out to the same total width,
    // so the labels of links fanning out from one box have room.
    let most = rows.iter().map(Vec::len).max().unwrap_or(1);
    let gap = if most > 1 {
        ((MAX_WIDTH - most as f64 * BOX_W) / (most - 1) as f64).clamp(COL_GAP, 320.0)
    } else {
        COL_GAP
    };
    let span = |count: usize| count as f64 * BOX_W + (count.saturating_sub(1)) as f64 * gap;
    let widest = rows.iter().map(|r| span(r.len())).fold(0.0, f64::max);
    let mut centres = vec![(0.0, 0.0); n];
    for (r, row) in rows.iter().enumerate() {
        let left = (widest - span(row.len())) / 2.0 + BOX_W / 2.0;
        for (c, &node) in row.iter().enumerate() {
            centres[node] = (left + c as f64 * (BOX_W + gap), r as f64 * row_h);
        }
    }
    centres
}

/// The drawing's rows, top to bottom, each at most [`MAX_COLUMNS`] node
/// indices, left to right.
fn rows(adjacent: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adjacent.len();
    let mut placed = vec![false; n];
    let mut out: Vec<Vec<usize>> = Vec::new();
    // Nodes with no link share rows at the end, not a row each.
    let alone: Vec<usize> = (0..n).filter(|&v| adjacent[v].is_empty()).collect();
    for &v in &alone {
        placed[v] = true;
    }
    // Connected parts in plan order of their first node.
    for start in 0..n {
        if placed[start] {
            continue;
        }
        let part = component(adjacent, start);
        // The walk starts at the part's best-connected node (first in
        // plan order among equals): the core sits on top.
        let root = part
            .iter()
            .copied()
            .max_by_key(|&v| (adjacent[v].len(), std::cmp::Reverse(v)))
            .unwrap_or(start);
        let mut layers: Vec<Vec<usize>> = Vec::new();
        let mut depth = vec![usize::MAX; n];
        let mut queue = VecDeque::from([root]);
        depth[root] = 0;
        while let Some(v) = queue.pop_front() {
            if layers.len() <= depth[v] {
                layers.push(Vec::new());
            }
            layers[depth[v]].push(v);
            for &w in &adjacent[v] {
                if depth[w] == usize::MAX {
                    depth[w] = depth[v] + 1;
                    queue.push_back(w);
                }
            }
        }
        for &v in &part {
            placed[v] = true;
        }
        order_layers(adjacent, &mut layers);
        for layer in layers {
            out.extend(layer.chunks(MAX_COLUMNS).map(<[usize]>::to_vec));
        }
    }
    out.extend(alone.chunks(MAX_COLUMNS).map(<[usize]>::to_vec));
    out
}

/// Every node reachable from `start`, in plan order.
fn component(adjacent: &[Vec<usize>], start: usize) -> Vec<usize> {
    let mut seen = vec![false; adjacent.len()];
    let mut stack = vec![start];
    seen[start] = true;
    while let Some(v) = stack.pop() {
        for &w in &adjacent[v] {
            if !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
    }
    (0..adjacent.len()).filter(|&v| seen[v]).collect()
}

/// Orders each layer by the mean position of its neighbours in the layer
/// above (then, sweeping up, below), which untangles most crossings in
/// one pass each way; a node with no such neighbour keeps its place.
fn order_layers(adjacent: &[Vec<usize>], layers: &mut [Vec<usize>]) {
    let sweep = |layers: &mut [Vec<usize>], fixed: usize, moving: usize| {
        let at: BTreeMap<usize, usize> = layers[fixed]
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i))
            .collect();
        let mut keyed: Vec<(f64, usize, usize)> = layers[moving]
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let near: Vec<f64> = adjacent[v]
                    .iter()
                    .filter_map(|w| at.get(w).map(|&p| p as f64))
                    .collect();
                let key = if near.is_empty() {
                    i as f64
                } else {
                    near.iter().sum::<f64>() / near.len() as f64
                };
                (key, i, v)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        layers[moving] = keyed.into_iter().map(|(_, _, v)| v).collect();
    };
    for k in 1..layers.len() {
        sweep(layers, k - 1, k);
    }
    for k in (0..layers.len().saturating_sub(1)).rev() {
        sweep(layers, k + 1, k);
    }
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

    /// A leaf-spine-like lab of `n` nodes: two cores, then racks.
    fn big(n: usize) -> Topology {
        let nodes: Vec<TopologyNode> = (0..n).map(|i| node(&format!("n{i}"), "host")).collect();
        let mut links = vec![link("n0", "n1", "")];
        for i in 2..n {
            links.push(link(&format!("n{}", i % 2), &format!("n{i}"), "delay 1ms"));
        }
        Topology { nodes, links }
    }

    fn svg_size(svg: &str) -> (f64, f64) {
        let attr = |name: &str| -> f64 {
            let at = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            svg[at..].split('"').next().unwrap().parse().unwrap()
        };
        (attr("width"), attr("height"))
    }

    #[test]
    fn a_fifty_node_lab_fits_a_1280_pixel_window_wide_and_grows_down() {
        let svg = diagram(&big(50)).unwrap();
        let (w, h) = svg_size(&svg);
        assert!(w <= 1260.0, "width {w}");
        // 2 cores on top, 48 below in rows of five: 1 + 10 rows.
        assert!(
            h > 10.0 * ROW_GAP && h < 12.0 * (120.0 + ROW_GAP),
            "height {h}"
        );
        assert_eq!(svg.matches("<path").count(), 49);
        // 49 links: only the 48 impaired ones are labelled.
        assert_eq!(svg.matches("delay 1ms</text>").count(), 48);
        assert!(!svg.contains(">unimpaired</text>"));
        // Too many to draw readably: the tables carry it.
        assert_eq!(diagram(&big(MAX_DRAWN + 1)), None);
        assert!(diagram(&big(MAX_DRAWN)).is_some());
    }

    #[test]
    fn layers_follow_hops_from_the_best_connected_node_and_parts_stack() {
        // r1 has the most links: it is the top row; a and b one hop below,
        // c two; the lone node x is a part of its own, below.
        let t = Topology {
            nodes: vec![
                node("a", "host"),
                node("r1", "router"),
                node("c", "host"),
                node("b", "host"),
                node("x", "host"),
            ],
            links: vec![link("a", "r1", ""), link("r1", "b", ""), link("b", "c", "")],
        };
        let rows = rows(&{
            let mut adj = vec![Vec::new(); 5];
            for (a, b) in [(0, 1), (1, 3), (3, 2)] {
                adj[a].push(b);
                adj[b].push(a);
            }
            adj
        });
        assert_eq!(rows, vec![vec![1], vec![0, 3], vec![2], vec![4]]);
        // Twelve nodes without links: rows of five, not twelve rows.
        let lone = super::rows(&vec![Vec::new(); 12]);
        assert_eq!(lone.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 2]);
        let pos = layout(&t, 60.0);
        assert!(pos[1].1 < pos[0].1 && pos[0].1 == pos[3].1 && pos[3].1 < pos[2].1);
        assert!(pos[2].1 < pos[4].1);
    }

    #[test]
    fn barycentres_untangle_a_crossing() {
        // Top row p, q; below, s links q and t links p: t goes left.
        let mut adj = vec![Vec::new(); 5];
        for (a, b) in [(0, 1), (0, 2), (3, 2), (4, 1), (0, 3), (0, 4)] {
            adj[a].push(b);
            adj[b].push(a);
        }
        for l in &mut adj {
            l.sort_unstable();
        }
        // Root 0 (degree 4); layer 1 = [1, 2, 3, 4] in walk order; with
        // no layer below to pull them, they keep it.
        let r = rows(&adj);
        assert_eq!(r[0], vec![0]);
        let mut layers = vec![vec![1, 2], vec![3, 4]];
        order_layers(&adj, &mut layers);
        assert_eq!(layers[1], vec![4, 3], "3 hangs under 2, 4 under 1");
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
