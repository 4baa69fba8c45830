//! The chart written by `--svg FILE`: speedup over the sequential baseline (top) and peak
//! memory (bottom), one group of bars per workload, one bar per runtime.
//!
//! With `--python`, each CPython runtime's bar stands beside its model's, in the model's
//! colour lightened. Each runtime has its own colour whichever runtimes were selected, so a
//! chart of two runtimes reads like a chart of four; failed rows, rows with wrong outputs, and
//! rows with no baseline to compare with, have no bar. Axis labels carry as many decimals as
//! the axis's step needs.
//!
//! `plotters` is used with its SVG backend only and no default features: text is written as
//! SVG `<text>` elements and sized by plotters' built-in estimate, so neither the build nor the
//! run needs a font library or any other system library (`cargo tree -p concurrency` shows no
//! `-sys` crate).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use plotters::prelude::*;

use crate::report::{Row, speedup};
use crate::runtime::{Family, RuntimeKind};
use crate::workload::WorkloadKind;

/// Chart size in pixels.
const SIZE: (u32, u32) = (960, 720);

/// How many labels the y axis gets, about: the step the label decimals are chosen for.
const Y_LABELS: usize = 10;

/// The runtime's own colour, from a palette that stays distinct for colour-blind readers; a
/// CPython runtime has its model's colour, lightened, so each pair reads as one family.
fn colour(runtime: RuntimeKind) -> RGBColor {
    let RGBColor(r, g, b) = model_colour(runtime.model());
    match runtime.family() {
        Family::Model => RGBColor(r, g, b),
        Family::Cpython => {
            let lighten = |c: u8| c + ((255 - c) as f64 * CPYTHON_LIGHTEN) as u8;
            RGBColor(lighten(r), lighten(g), lighten(b))
        }
    }
}

/// How far toward white a CPython bar's colour is taken from its model's.
const CPYTHON_LIGHTEN: f64 = 0.55;

fn model_colour(runtime: RuntimeKind) -> RGBColor {
    match runtime {
        RuntimeKind::Sequential => RGBColor(120, 120, 120),
        RuntimeKind::GilThreads => RGBColor(0, 114, 178),
        RuntimeKind::MiniEventloop => RGBColor(230, 159, 0),
        RuntimeKind::ProcPool => RGBColor(0, 158, 115),
        // The same green, darker: the same model, started another way.
        RuntimeKind::ProcPoolForkserver => RGBColor(0, 94, 69),
        // Reddish purple: neither the loop's orange nor the pool's green, as it is both.
        RuntimeKind::MiniEventloopProcPool => RGBColor(204, 121, 167),
        // Not a model: `colour` asks only for models.
        _ => RGBColor(0, 0, 0),
    }
}

/// Decimals a label needs so that labels `step` apart read differently: none for a step of 1
/// or more, one for 0.1 to 1, and so on (at most 6).
fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        return 0;
    }
    ((-step.log10()).ceil() as usize).min(6)
}

/// How a panel maps values to bar heights.
#[derive(Clone, Copy)]
enum Scale {
    /// Bars as tall as the value, from zero.
    Linear,
    /// Bars as tall as the value's base-10 logarithm, from 1 (so a value below 1 points down):
    /// speedups run from below 1x to about 1,000x, which a linear axis would flatten.
    Log10,
}

impl Scale {
    fn height(self, value: f64) -> f64 {
        match self {
            Scale::Linear => value,
            Scale::Log10 => value.max(1e-3).log10(),
        }
    }

    /// The label at `height` on an axis whose labels are about `step` apart.
    fn label(self, height: f64, step: f64) -> String {
        match self {
            Scale::Linear => format!("{height:.*}", decimals_for(step)),
            Scale::Log10 => {
                // Labels `step` apart in log units differ by `value * (10^step - 1)`: as many
                // decimals as that gap needs, so 1.58x is not shown as a second "2x".
                let value = 10f64.powf(height);
                let gap = value * (10f64.powf(step) - 1.0);
                format!("{value:.*}x", decimals_for(gap))
            }
        }
    }
}

/// One panel's content.
struct Panel<'a> {
    title: &'a str,
    y_desc: &'a str,
    scale: Scale,
    /// The value of a row, if it has one, and how it is written above its bar.
    value: &'a dyn Fn(&Row) -> Option<f64>,
    format: &'a dyn Fn(f64) -> String,
    /// Whether the panel carries the legend: one is enough, since each runtime keeps its
    /// colour, and in the linear memory panel a legend would cover the tallest bars.
    legend: bool,
}

/// Writes the chart of `rows` to `path`, which must be a regular file (it is created if
/// missing): anything else, a FIFO with no reader say, is refused rather than waited on.
pub fn write(path: &Path, rows: &[Row]) -> Result<(), String> {
    let mut svg = String::new();
    render(rows, &mut svg)?;
    write_regular_file(path, svg.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Opens `path` without blocking (opening a FIFO for writing waits for a reader), refuses it
/// unless it is a regular file, and writes `bytes` to it. Every file the program writes
/// (`--svg`, `--trace`, `--timeline`) goes through here.
pub fn write_regular_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    file.write_all(bytes)?;
    file.flush()
}

/// Draws the chart of `rows` into `svg`.
fn render(rows: &[Row], svg: &mut String) -> Result<(), String> {
    let mut workloads: Vec<WorkloadKind> = rows.iter().map(|r| r.workload).collect();
    workloads.dedup();
    let mut runtimes: Vec<RuntimeKind> = rows.iter().map(|r| r.runtime).collect();
    // Each CPython bar stands beside its model's.
    runtimes.sort_by_key(|r| (r.model(), r.family() == Family::Cpython));
    runtimes.dedup();

    let speedup = |r: &Row| speedup(rows, r);
    let peak = |r: &Row| Some(r.peak_mib()).filter(|_| r.all_correct());
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2);
    let speedup_panel = Panel {
        title: "Speedup over its own sequential baseline (log scale; higher is better)",
        y_desc: "x sequential",
        scale: Scale::Log10,
        value: &speedup,
        format: &|v| format!("{v:.1}"),
        legend: true,
    };
    let memory_panel = Panel {
        title: "Peak memory, trial process + workers (MiB)",
        y_desc: "MiB",
        scale: Scale::Linear,
        value: &peak,
        format: &|v| format!("{v:.1}"),
        legend: false,
    };
    draw_panel(&top, &speedup_panel, &workloads, &runtimes, rows)?;
    draw_panel(&bottom, &memory_panel, &workloads, &runtimes, rows)?;
    root.present().map_err(|e| e.to_string())
}

/// One bar chart: a group per workload, a bar per runtime, its value written above it.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    panel: &Panel<'_>,
    workloads: &[WorkloadKind],
    runtimes: &[RuntimeKind],
    rows: &[Row],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let heights = rows
        .iter()
        .filter_map(|r| (panel.value)(r))
        .map(|v| panel.scale.height(v));
    let (low, high) = heights.fold((0.0_f64, 0.0_f64), |(lo, hi), h| (lo.min(h), hi.max(h)));
    // Head room above the tallest bar for its label.
    // A legend of many runtimes needs room of its own above the bars, about a sixth of the
    // tallest bar's height per entry (ten entries, the `--python` chart's, take over half the
    // panel).
    let head_room = if panel.legend && runtimes.len() > 4 {
        1.0 + 0.18 * runtimes.len() as f64
    } else {
        1.15
    };
    let top = high.max(1.0) * head_room;
    let groups = workloads.len() as f64;
    let step = (top - low.min(0.0)) / Y_LABELS as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..groups, low.min(0.0)..top)
        .map_err(err)?;
    let scale = panel.scale;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(workloads.len() * 2 + 1)
        .x_label_formatter(&|x| {
            // Only the group centres (k + 0.5) are labelled, with the workload's name.
            let k = x.floor() as usize;
            let centre = (x - x.floor() - 0.5).abs() < 1e-6;
            match workloads.get(k) {
                Some(w) if centre => w.name().to_owned(),
                _ => String::new(),
            }
        })
        .y_labels(Y_LABELS)
        .y_label_formatter(&|y| scale.label(*y, step))
        .y_desc(panel.y_desc)
        .draw()
        .map_err(err)?;

    let bar = 0.8 / runtimes.len().max(1) as f64;
    // Narrower bars, smaller labels, so that labels of neighbouring bars do not run together.
    let label_size = if runtimes.len() > 5 { 7 } else { 10 };
    for (i, &runtime) in runtimes.iter().enumerate() {
        let colour = colour(runtime);
        let placed: Vec<(f64, f64, f64)> = rows
            .iter()
            .filter(|r| r.runtime == runtime)
            .filter_map(|r| {
                let k = workloads.iter().position(|&w| w == r.workload)? as f64;
                let value = (panel.value)(r)?;
                Some((k + 0.1 + bar * i as f64, scale.height(value), value))
            })
            .collect();
        chart
            .draw_series(placed.iter().map(|&(x0, h, _)| {
                Rectangle::new([(x0, 0.0), (x0 + bar * 0.9, h)], colour.filled())
            }))
            .map_err(err)?
            .label(runtime.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        chart
            .draw_series(placed.iter().map(|&(x0, h, value)| {
                Text::new(
                    (panel.format)(value),
                    (x0, h.max(0.0) + top * 0.06),
                    ("sans-serif", label_size),
                )
            }))
            .map_err(err)?;
    }
    if !panel.legend {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory labels 0.3 MiB apart read differently (the old axis printed `0 0 1 2 2 2 3 4`),
    /// and whole steps keep whole labels.
    #[test]
    fn labels_carry_the_step_decimals() {
        let labels: Vec<String> = (0..8)
            .map(|i| Scale::Linear.label(f64::from(i) * 0.3, 0.3))
            .collect();
        let mut distinct = labels.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), labels.len(), "{labels:?}");
        assert_eq!(Scale::Linear.label(20.0, 5.0), "20");
        assert_eq!(Scale::Linear.label(0.05, 0.01), "0.05");
        assert_eq!(decimals_for(f64::NAN), 0);
    }

    /// Speedup labels a tenth of a decade apart read differently (the old axis rounded 1.26x,
    /// 1.58x and 2x alike to "1x" or "2x").
    #[test]
    fn log_labels_carry_the_step_decimals() {
        let labels: Vec<String> = (0..=10)
            .map(|i| Scale::Log10.label(f64::from(i) * 0.1, 0.1))
            .collect();
        let mut distinct = labels.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), labels.len(), "{labels:?}");
        assert_eq!(Scale::Log10.label(0.2, 0.1), "1.6x");
        assert_eq!(Scale::Log10.label(2.0, 1.0), "100x");
        assert_eq!(Scale::Log10.label(-1.0, 0.5), "0.1x");
    }

    /// Every runtime keeps its own colour, distinct from the others', CPython's included.
    #[test]
    fn colours_belong_to_runtimes() {
        let colours: Vec<(u8, u8, u8)> = RuntimeKind::EVERY
            .iter()
            .map(|&r| {
                let c = colour(r);
                (c.0, c.1, c.2)
            })
            .collect();
        for (i, a) in colours.iter().enumerate() {
            assert!(!colours[i + 1..].contains(a), "{colours:?}");
        }
    }
}
