//! No input makes the parser panic: truncations and seeded mutations of a
//! valid plan all come back as `Ok` or as an error that renders.
//!
//! A dependency-free stand-in for a fuzzer (STYLE habit 11): the corpus is
//! the valid fixture, mutations come from a fixed-seed generator, so every
//! run checks the same inputs and a failure reproduces.

use crate::{crate_dir, parse};

/// Parses `text` and, on error, renders it and checks every position is
/// inside the text.
fn check(text: &str) {
    match parse("fuzz.toml", text) {
        Ok(plan) => assert_eq!(plan.source.text, text),
        Err(e) => {
            let _ = e.render(false, 100);
            let _ = e.render(true, 40);
            let lines = text.split('\n').count();
            for p in e.problems() {
                assert!(
                    p.line >= 1 && p.line <= lines,
                    "line {} of {lines}: {p:?}",
                    p.line
                );
                assert!(p.column >= 1, "{p:?}");
            }
        }
    }
}

fn corpus() -> String {
    fixture("full.toml")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(crate_dir().join("tests/fixtures/valid").join(name)).unwrap()
}

#[test]
fn every_truncation() {
    let text = corpus();
    for (i, _) in text.char_indices() {
        check(&text[..i]);
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Characters that matter to TOML and to the plan's small languages.
const INTERESTING: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    ".",
    ":",
    "\n",
    "#",
    "0",
    "9",
    "-",
    "%",
    "µ",
    "\\",
    "ms",
    "{addr:",
    "p99(",
    ")",
    "<",
    " ",
    "[[case]]\n",
    "[[node]]\nname = \"x\"\n",
    "every = \"1s\"",
    "asn = 65001",
    "ospf = true",
    "[[bgp]]\nends = [\"r1\", \"r2\"]\n",
    "a_to_b = { prepend = 99 }",
    "/33",
    "\u{0}",
];

#[test]
fn seeded_mutations() {
    mutate(&corpus(), 0x5eed_1234_abcd_ef01, 3000);
}

/// The routing intent (node, link and `[[bgp]]` keys) has its own corpus.
#[test]
fn seeded_mutations_of_routing_intent() {
    let base = fixture("routing.toml");
    check(&base);
    for (i, _) in base.char_indices().step_by(7) {
        check(&base[..i]);
    }
    mutate(&base, 0xb6b0_5eed, 1500);
}

fn mutate(base: &str, seed: u64, rounds: usize) {
    let mut rng = XorShift(seed);
    for _ in 0..rounds {
        let mut text = base.to_string();
        for _ in 0..1 + rng.below(4) {
            let boundaries: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let at = boundaries[rng.below(boundaries.len())];
            match rng.below(4) {
                0 => text.insert_str(at, INTERESTING[rng.below(INTERESTING.len())]),
                1 => {
                    let end = boundaries[(boundaries.iter().position(|&b| b == at).unwrap_or(0)
                        + 1
                        + rng.below(8))
                    .min(boundaries.len() - 1)];
                    text.replace_range(at..end, "");
                }
                2 => {
                    // Duplicate a line: duplicate keys and tables.
                    let lines: Vec<&str> = text.lines().collect();
                    let line = lines[rng.below(lines.len())].to_string();
                    text.insert_str(at, &format!("\n{line}\n"));
                }
                _ => {
                    let end = boundaries[(boundaries.iter().position(|&b| b == at).unwrap_or(0)
                        + 1)
                    .min(boundaries.len() - 1)];
                    text.replace_range(at..end, INTERESTING[rng.below(INTERESTING.len())]);
                }
            }
        }
        check(&text);
    }
}

#[test]
fn odd_inputs() {
    for text in [
        "",
        "\u{feff}",
        "[plan]",
        "plan = 1",
        "[[plan]]\nname = \"x\"",
        "plan = { name = \"x\", summary = \"y\" }\nnode = \"x\"\ncase = [1, 2]",
        "[plan]\nname = \"x\"\nsummary = \"y\"\n[[case]]\nid = \"c\"\ntitle = \"t\"\nsteps = [{ kind = \"exec\", node = 1, command = \"ls\" }]\nexpect = \"p99(x) < 1\"",
        "[plan]\nname = \"x\"\nsummary = \"y\"\n[[case]]\nid = \"c\"\ntitle = \"t\"\nsteps = [{ kind = 5 }, \"x\", { kind = \"exec\", at = \"99999999999h\" }]\ntimeout = \"1ns\"",
        "[plan]\nname = \"x\"\nsummary = \"y\"\n[[node]]\nname = \"a\"\n[[case]]\nid = \"c\"\ntitle = \"t\"\nsteps = [{ kind = \"exec\", node = \"a\", command = [\"x\"], every = \"1ns\", count = 4294967295, at = \"18446744073s\" }]\ntimeout = \"1s\"",
    ] {
        check(text);
    }
}
