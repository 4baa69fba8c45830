//! The chart written by `--svg FILE`: speedup over the sequential baseline (top) and peak
//! memory (bottom), one group of bars per workload, one bar per runtime.
//!
//! `plotters` is used with its SVG backend only and no default features: text is written as
//! SVG `<text>` elements and sized by plotters' built-in estimate, so neither the build nor the
//! run needs a font library or any other system library (`cargo tree -p concurrency` shows no
//! `-sys` crate).

use std::path::Path;

use plotters::prelude::*;

use crate::report::{Row, baseline};
use crate::runtime::RuntimeKind;
use crate::workload::WorkloadKind;

/// Chart size in pixels.
const SIZE: (u32, u32) = (960, 720);

/// One colour per runtime, in table order; chosen to stay distinct for colour-blind readers.
const PALETTE: [RGBColor; 4] = [
    RGBColor(120, 120, 120),
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
];

/// Writes the chart of `rows` to `path`.
pub fn write(path: &Path, rows: &[Row]) -> Result<(), String> {
    let mut workloads: Vec<WorkloadKind> = rows.iter().map(|r| r.workload).collect();
    workloads.dedup();
    let mut runtimes: Vec<RuntimeKind> = rows.iter().map(|r| r.runtime).collect();
    runtimes.sort();
    runtimes.dedup();

    let speedup = |r: &Row| {
        baseline(rows, r.workload)
            .filter(|_| r.wall().median > 0.0)
            .map_or(0.0, |b| b / r.wall().median)
    };
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2);
    panel(
        &top,
        "Speedup over sequential (higher is better)",
        "x sequential",
        &workloads,
        &runtimes,
        rows,
        speedup,
    )?;
    panel(
        &bottom,
        "Peak memory, trial process + workers (MiB)",
        "MiB",
        &workloads,
        &runtimes,
        rows,
        Row::peak_mib,
    )?;
    root.present()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One bar chart: a group per workload, a bar per runtime, the value given by `value`.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    workloads: &[WorkloadKind],
    runtimes: &[RuntimeKind],
    rows: &[Row],
    value: impl Fn(&Row) -> f64,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let y_max = rows.iter().map(&value).fold(0.0_f64, f64::max).max(1.0) * 1.15;
    let groups = workloads.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..groups, 0.0..y_max)
        .map_err(err)?;
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
        .y_desc(y_label)
        .draw()
        .map_err(err)?;

    let bar = 0.8 / runtimes.len().max(1) as f64;
    for (i, &runtime) in runtimes.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let bars = rows
            .iter()
            .filter(|r| r.runtime == runtime)
            .filter_map(|r| {
                let k = workloads.iter().position(|&w| w == r.workload)? as f64;
                let x0 = k + 0.1 + bar * i as f64;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + bar * 0.9, value(r))],
                    colour.filled(),
                ))
            });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(runtime.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
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
