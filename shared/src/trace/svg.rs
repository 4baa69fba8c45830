//! An SVG timeline: one horizontal lane per thread, task or worker, its spans drawn as
//! coloured bars and its instants as ticks, for a window of time of each trial.
//!
//! The picture is meant to be read at a glance: the legend sits under the title and names
//! only the kinds in the picture, a bar wide enough for its name carries it, every lane is
//! labelled at its left, and each trial has its own time axis (its first event at 0).
//!
//! Invariants: the output is well-formed XML whatever the names hold (they are escaped); its
//! size is bounded whatever the number of events: a trial shows at most [`MAX_LANES`] lanes,
//! and bars of one kind that would touch at the picture's resolution are drawn as one, so a
//! lane holds at most a few bars per pixel of width.

use std::fmt::Write as _;

use super::{Event, Kind, Lane, TrialTrace};

/// The picture's width in pixels.
const WIDTH: f64 = 960.0;
/// Room at the left for the lane labels.
const LABEL_WIDTH: f64 = 100.0;
/// Room at the right, so the last tick label fits.
const RIGHT_MARGIN: f64 = 24.0;
/// One lane's height and the gap under it.
const LANE_HEIGHT: f64 = 16.0;
const LANE_GAP: f64 = 4.0;
/// Bars of one kind less than this far apart (in pixels) are drawn as one.
const MERGE_PX: f64 = 0.5;
/// The narrowest bar drawn, so a very short span still shows.
const MIN_BAR_PX: f64 = 1.0;
/// Pixels per character of the 10 px labels inside bars, an upper estimate.
const CHAR_PX: f64 = 6.0;

/// The most lanes shown per trial; the rest are counted in the trial's heading.
pub const MAX_LANES: usize = 48;

/// Which part of each trial to draw, in nanoseconds since the trial's first event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The left edge.
    pub start_ns: u64,
    /// The right edge; `u64::MAX` means each trial's own last event. A fixed edge gives
    /// every trial the same time scale, so they can be compared by eye.
    pub end_ns: u64,
}

impl Window {
    /// Every trial whole, each on its own time scale.
    pub const WHOLE: Window = Window {
        start_ns: 0,
        end_ns: u64::MAX,
    };

    /// The window for `trial`: its right edge at the trial's end if open, and never empty.
    fn for_trial(self, trial: &TrialTrace) -> (u64, u64) {
        let end = if self.end_ns == u64::MAX {
            trial.length_ns()
        } else {
            self.end_ns
        };
        (self.start_ns, end.max(self.start_ns.saturating_add(1)))
    }
}

/// The trials as one SVG picture titled `title`, each drawn over `window`.
#[must_use]
pub fn to_svg(title: &str, trials: &[TrialTrace], window: Window) -> String {
    let mut body = String::new();
    let mut y = 30.0;
    text(&mut body, 12.0, y, "title", title);
    y += 22.0;
    y = legend(&mut body, y, &kinds_shown(trials, window));
    text(
        &mut body,
        12.0,
        y + 8.0,
        "note",
        "Time runs left to right from each trial's first event; a lane is blank while its \
         thread, task or worker does none of the things shown.",
    );
    y += 16.0;
    for trial in trials {
        y = draw_trial(&mut body, y + 16.0, trial, window);
    }
    let height = y + 12.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n\
         <style>.title{{font-size:18px;font-weight:bold}} .heading{{font-size:14px;font-weight:bold}} \
         .label{{font-size:11px}} .note{{font-size:11px;fill:#555}} .in{{font-size:10px}} \
         .tick{{font-size:10px;fill:#333}}</style>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

/// The fill colour of a kind: the Okabe–Ito palette, which stays apart for colour-blind eyes.
fn colour(kind: Kind) -> &'static str {
    match kind {
        Kind::GilHeld => "#009E73",
        Kind::GilWait => "#E69F00",
        Kind::DropRequest => "#D55E00",
        Kind::ForcedSwitch => "#000000",
        Kind::TaskPoll => "#0072B2",
        Kind::PollerWait => "#BBBBBB",
        Kind::ChunkSent => "#56B4E9",
        Kind::ChunkRun => "#CC79A7",
    }
}

impl Kind {
    /// Whether a span of this kind is time spent waiting rather than running.
    fn is_wait(self) -> bool {
        matches!(self, Kind::GilWait | Kind::PollerWait)
    }
}

/// The colour of a name written on a bar of `kind`: white on the dark fills.
fn ink(kind: Kind) -> &'static str {
    match kind {
        Kind::GilHeld | Kind::TaskPoll | Kind::ChunkRun => "white",
        _ => "black",
    }
}

/// The kinds with at least one event inside the window, in [`Kind::ALL`] order.
fn kinds_shown(trials: &[TrialTrace], window: Window) -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|kind| {
            trials.iter().any(|trial| {
                let origin = trial.origin_ns();
                let (start, end) = window.for_trial(trial);
                trial.events.iter().any(|e| {
                    e.kind == *kind
                        && e.start_ns - origin <= end
                        && e.end_ns.max(e.start_ns) - origin >= start
                })
            })
        })
        .collect()
}

/// Draws the legend from `y`, wrapping at the picture's width; returns the next free `y`.
fn legend(out: &mut String, y: f64, kinds: &[Kind]) -> f64 {
    let mut x = 12.0;
    let mut y = y;
    for kind in kinds {
        let width = 22.0 + CHAR_PX * 1.1 * kind.name().len() as f64 + 14.0;
        if x + width > WIDTH - RIGHT_MARGIN {
            x = 12.0;
            y += 18.0;
        }
        if kind.is_instant() {
            let _ = writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"3\" height=\"14\" fill=\"{}\"/>",
                x + 5.0,
                y - 11.0,
                colour(*kind)
            );
        } else {
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"12\" fill=\"{}\"/>",
                y - 10.0,
                colour(*kind)
            );
        }
        text(out, x + 20.0, y, "label", kind.name());
        x += width;
    }
    y + 8.0
}

/// Draws one trial (heading, lanes, axis) from `y`; returns the next free `y`.
fn draw_trial(out: &mut String, y: f64, trial: &TrialTrace, window: Window) -> f64 {
    let lanes = trial.lanes();
    let shown = lanes.len().min(MAX_LANES);
    let (start, end) = window.for_trial(trial);
    let origin = trial.origin_ns();
    let scale = Scale {
        start,
        end,
        left: LABEL_WIDTH,
        right: WIDTH - RIGHT_MARGIN,
    };

    let _ = writeln!(out, "<g class=\"trial\">");
    text(out, 12.0, y, "heading", &trial.name);
    let mut notes = Vec::new();
    if lanes.len() > shown {
        notes.push(format!("{} more lanes not shown", lanes.len() - shown));
    }
    if trial.dropped > 0 {
        notes.push(format!(
            "{} events left out: recorder full or size bound",
            trial.dropped
        ));
    }
    if !notes.is_empty() {
        text(
            out,
            12.0,
            y + 15.0,
            "note",
            &format!("({})", notes.join("; ")),
        );
    }
    let mut top = y + if notes.is_empty() { 10.0 } else { 24.0 };
    for lane in &lanes[..shown] {
        draw_lane(out, top, *lane, trial, origin, &scale);
        top += LANE_HEIGHT + LANE_GAP;
    }
    let bottom = axis(out, top, &scale);
    let _ = writeln!(out, "</g>");
    bottom
}

/// Maps trial-relative nanoseconds in `[start, end]` onto pixels in `[left, right]`.
struct Scale {
    start: u64,
    end: u64,
    left: f64,
    right: f64,
}

impl Scale {
    fn x(&self, ns: u64) -> f64 {
        let ns = ns.clamp(self.start, self.end);
        let part = (ns - self.start) as f64 / (self.end - self.start) as f64;
        self.left + part * (self.right - self.left)
    }
}

/// Draws one lane at `top`: its label, a pale band, its bars, then its instants above them.
fn draw_lane(out: &mut String, top: f64, lane: Lane, trial: &TrialTrace, origin: u64, s: &Scale) {
    let label = lane.label();
    let _ = write!(out, "<g class=\"lane\" data-lane=\"");
    escape(&label, out);
    let _ = writeln!(out, "\">");
    text(out, 12.0, top + LANE_HEIGHT - 4.0, "label", &label);
    let _ = writeln!(
        out,
        "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{LANE_HEIGHT}\" fill=\"#F2F2F2\"/>",
        s.left,
        s.right - s.left
    );
    let mut spans: Vec<&Event> = trial
        .events
        .iter()
        .filter(|e| e.lane == lane)
        .filter(|e| e.start_ns - origin <= s.end && e.end_ns.max(e.start_ns) - origin >= s.start)
        .collect();
    spans.sort_by_key(|e| e.start_ns);
    let (instants, bars): (Vec<&Event>, Vec<&Event>) =
        spans.into_iter().partition(|e| e.kind.is_instant());
    // Waits first, so that a short hold or poll at the end of a wait is drawn over it.
    let waits_first = [Kind::GilWait, Kind::PollerWait]
        .into_iter()
        .chain(Kind::ALL.into_iter().filter(|k| !k.is_wait()));
    for kind in waits_first.filter(|k| !k.is_instant()) {
        let pixels = bars.iter().filter(|e| e.kind == kind).map(|e| {
            let from = s.x(e.start_ns - origin);
            let to = s.x(e.end_ns.max(e.start_ns) - origin);
            (from, to)
        });
        for (from, to) in merged(pixels) {
            bar(out, top, from, to, kind);
        }
    }
    for kind in Kind::ALL.into_iter().filter(|k| k.is_instant()) {
        let pixels = instants.iter().filter(|e| e.kind == kind).map(|e| {
            let at = s.x(e.start_ns - origin);
            (at, at)
        });
        for (at, _) in merged(pixels) {
            let _ = writeln!(
                out,
                "<rect x=\"{:.2}\" y=\"{:.1}\" width=\"1.5\" height=\"{:.1}\" fill=\"{}\"/>",
                at - 0.75,
                top - 2.0,
                LANE_HEIGHT + 4.0,
                colour(kind)
            );
        }
    }
    let _ = writeln!(out, "</g>");
}

/// Joins pixel intervals (sorted by their start) that touch or lie less than [`MERGE_PX`]
/// apart, so the number of bars is bounded by the width, not the number of events.
fn merged(pixels: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut joined: Vec<(f64, f64)> = Vec::new();
    for (from, to) in pixels {
        match joined.last_mut() {
            Some(last) if from <= last.1 + MERGE_PX => last.1 = last.1.max(to),
            _ => joined.push((from, to)),
        }
    }
    joined
}

/// One bar from `from` to `to`, named inside if its name fits.
fn bar(out: &mut String, top: f64, from: f64, to: f64, kind: Kind) {
    let width = (to - from).max(MIN_BAR_PX);
    let _ = writeln!(
        out,
        "<rect x=\"{from:.2}\" y=\"{top:.1}\" width=\"{width:.2}\" height=\"{LANE_HEIGHT}\" fill=\"{}\"/>",
        colour(kind)
    );
    let name = kind.name();
    if width >= CHAR_PX * name.len() as f64 + 6.0 {
        let _ = writeln!(
            out,
            "<text class=\"in\" x=\"{:.2}\" y=\"{:.1}\" fill=\"{}\">{name}</text>",
            from + 3.0,
            top + LANE_HEIGHT - 4.5,
            ink(kind)
        );
    }
}

/// Draws the time axis under the lanes, from `top`; returns the next free `y`.
fn axis(out: &mut String, top: f64, s: &Scale) -> f64 {
    let y = top + 2.0;
    let _ = writeln!(
        out,
        "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#333\"/>",
        s.left, s.right
    );
    let step = tick_step(s.end - s.start);
    let mut tick = s.start.div_ceil(step).saturating_mul(step);
    while tick <= s.end {
        let x = s.x(tick);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>",
            y + 4.0
        );
        let _ = writeln!(
            out,
            "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y + 15.0,
            time_label(tick, step)
        );
        tick = match tick.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    y + 18.0
}

/// A round step (1, 2 or 5 times a power of ten nanoseconds) giving 5 to 10 ticks.
fn tick_step(span: u64) -> u64 {
    let mut unit: u64 = 1;
    loop {
        for m in [1, 2, 5] {
            let step = unit.saturating_mul(m);
            if span / step <= 10 || step == u64::MAX {
                return step.max(1);
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// A tick's time in the unit its step calls for: "250 µs", "15 ms", "1.5 s".
fn time_label(ns: u64, step: u64) -> String {
    let (unit, per) = if step >= 100_000_000 {
        ("s", 1e9)
    } else if step >= 100_000 {
        ("ms", 1e6)
    } else if step >= 100 {
        ("µs", 1e3)
    } else {
        ("ns", 1.0)
    };
    let value = ns as f64 / per;
    // A step of 1, 2 or 5 units of a tenth or more needs at most one decimal.
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// A `<text>` of `class` at (`x`, `y`) holding `content`, escaped.
fn text(out: &mut String, x: f64, y: f64, class: &str, content: &str) {
    let _ = write!(out, "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\">");
    escape(content, out);
    let _ = writeln!(out, "</text>");
}

/// Appends `value` escaped for XML text and attribute values; characters XML 1.0 cannot hold
/// at all (most control characters) become U+FFFD.
fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::trial::event as ev;

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).expect("the timeline is well-formed XML")
    }

    fn lanes_per_trial(doc: &roxmltree::Document<'_>) -> Vec<Vec<String>> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some("trial") && n.has_tag_name("g"))
            .map(|trial| {
                trial
                    .children()
                    .filter(|n| n.attribute("class") == Some("lane"))
                    .map(|n| n.attribute("data-lane").unwrap_or_default().to_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn one_lane_per_lane_of_each_trial_in_well_formed_xml() {
        let base = 77_000_000_000;
        let trials = [
            TrialTrace::new(
                "gil-threads <cpu> & \"friends\" \u{1}",
                vec![
                    ev(Lane::Thread(1), Kind::GilHeld, base, base + 5_000_000),
                    ev(Lane::Thread(2), Kind::GilWait, base + 10, base + 5_000_000),
                    ev(
                        Lane::Thread(2),
                        Kind::DropRequest,
                        base + 4_999_000,
                        base + 4_999_000,
                    ),
                    ev(
                        Lane::Thread(2),
                        Kind::GilHeld,
                        base + 5_000_000,
                        base + 9_000_000,
                    ),
                    ev(
                        Lane::Thread(0),
                        Kind::GilHeld,
                        base + 9_000_000,
                        base + 9_500_000,
                    ),
                ],
            ),
            TrialTrace::new(
                "mini-eventloop",
                (0..1_000)
                    .map(|i| {
                        ev(
                            Lane::Task(i % 7),
                            Kind::TaskPoll,
                            base + i * 10,
                            base + i * 10 + 5,
                        )
                    })
                    .chain([ev(Lane::Loop, Kind::PollerWait, base, base + 10_000)])
                    .collect(),
            ),
        ];
        let svg = to_svg("A <title>", &trials, Window::WHOLE);
        let doc = parse(&svg);
        let lanes = lanes_per_trial(&doc);
        assert_eq!(lanes[0], ["thread 0", "thread 1", "thread 2"]);
        let mut loop_lanes = vec!["event loop".to_owned()];
        loop_lanes.extend((0..7).map(|i| format!("task {i}")));
        assert_eq!(lanes[1], loop_lanes);
        assert!(svg.contains("gil-threads &lt;cpu&gt; &amp; &quot;friends&quot;"));
        // The legend names exactly the kinds drawn.
        let legend: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("label"))
            .filter_map(|n| n.text())
            .filter(|t| Kind::ALL.iter().any(|k| k.name() == *t))
            .collect();
        assert_eq!(
            legend,
            [
                "gil held",
                "gil wait",
                "drop request",
                "poll",
                "poller wait"
            ]
        );
    }

    #[test]
    fn a_window_clips_and_many_tiny_spans_stay_few_bars() {
        let base = 5_000;
        let many: Vec<Event> = (0..100_000)
            .map(|i| {
                ev(
                    Lane::Worker(0),
                    Kind::ChunkRun,
                    base + i * 10,
                    base + i * 10 + 9,
                )
            })
            .chain([ev(
                Lane::Worker(1),
                Kind::ChunkRun,
                base + 2_000_000,
                base + 2_000_100,
            )])
            .collect();
        let trials = [TrialTrace::new("pool", many)];
        let svg = to_svg("t", &trials, Window::WHOLE);
        assert!(svg.len() < 50_000, "{} bytes", svg.len());
        let doc = parse(&svg);
        assert_eq!(lanes_per_trial(&doc)[0], ["worker 0", "worker 1"]);
        // A window before worker 1's only span: its lane stays, empty.
        let early = to_svg(
            "t",
            &trials,
            Window {
                start_ns: 0,
                end_ns: 1_000,
            },
        );
        let doc = parse(&early);
        let worker1 = doc
            .descendants()
            .find(|n| n.attribute("data-lane") == Some("worker 1"))
            .unwrap();
        assert_eq!(
            worker1
                .children()
                .filter(|n| n.has_tag_name("rect"))
                .count(),
            1
        );
        // Degenerate windows and empty traces still draw.
        parse(&to_svg(
            "t",
            &trials,
            Window {
                start_ns: 9,
                end_ns: 3,
            },
        ));
        parse(&to_svg("t", &[TrialTrace::default()], Window::WHOLE));
        parse(&to_svg(
            "t",
            &trials,
            Window {
                start_ns: u64::MAX - 1,
                end_ns: u64::MAX - 1,
            },
        ));
    }

    #[test]
    fn lanes_past_the_cap_and_dropped_events_are_counted_not_drawn() {
        let events = (0..(MAX_LANES as u32 + 5))
            .map(|n| ev(Lane::Thread(n), Kind::GilHeld, 10, 20))
            .collect();
        let trial = TrialTrace {
            dropped: 7,
            ..TrialTrace::new("many", events)
        };
        let svg = to_svg("t", &[trial], Window::WHOLE);
        let doc = parse(&svg);
        assert_eq!(lanes_per_trial(&doc)[0].len(), MAX_LANES);
        assert!(svg.contains("5 more lanes not shown; 7 events left out"));
    }

    #[test]
    fn ticks_are_round_and_labelled_in_their_unit() {
        assert_eq!(tick_step(50_000_000), 5_000_000);
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(u64::MAX), 2_000_000_000_000_000_000);
        assert_eq!(time_label(15_000_000, 5_000_000), "15 ms");
        assert_eq!(time_label(250_000, 50_000), "250 µs");
        assert_eq!(time_label(1_500_000_000, 500_000_000), "1.5 s");
    }
}
