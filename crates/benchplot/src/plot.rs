//! The SVG charts, drawn with plotters' SVG backend only: text is written as
//! SVG `<text>` elements for the viewer's fonts, so nothing here needs a
//! font file or a system library (plotters without its `ttf` feature
//! estimates text extents itself, which is enough to lay out axes).

use crate::results::{by_server, scenarios, spread, Run, Spread};
use crate::table::main_figure;
use anyhow::Context;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const SIZE: (u32, u32) = (860, 500);
const FONT: &str = "sans-serif";

/// A server's colour: the same in every chart.
fn colour(server: &str) -> RGBColor {
    match server {
        "shoal" => RGBColor(0x1f, 0x77, 0xb4),
        "socketio" => RGBColor(0xff, 0x7f, 0x0e),
        "mosquitto" => RGBColor(0x2c, 0xa0, 0x2c),
        "nchan" => RGBColor(0xd6, 0x27, 0x28),
        "pushpin" => RGBColor(0x94, 0x67, 0xbd),
        "floor" => RGBColor(0x55, 0x55, 0x55),
        _ => RGBColor(0x8c, 0x56, 0x4b),
    }
}

/// One line of the fan-out chart: (clients, median) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub colour_of: String,
    pub points: Vec<(f64, f64)>,
}

/// The fan-out lines: each server's main figure by fan-out size, and the
/// kernel floor's two (one update per write, ten per write).
pub fn fanout_lines(runs: &[Run]) -> Vec<Line> {
    let (key, _) = main_figure("fanout");
    let mut lines: Vec<Line> = Vec::new();
    let mut push = |name: String, colour_of: &str, x: f64, y: Option<Spread>| {
        let Some(y) = y else { return };
        match lines.iter_mut().find(|l| l.name == name) {
            Some(l) => l.points.push((x, y.median)),
            None => lines.push(Line {
                name,
                colour_of: colour_of.to_owned(),
                points: vec![(x, y.median)],
            }),
        }
    };
    for (scenario, _) in scenarios(runs).iter().filter(|(_, w)| w == "fanout") {
        for (server, rs) in by_server(runs, scenario) {
            let x = rs.first().map_or(0.0, |r| r.clients as f64);
            if server == "floor" {
                push(
                    "kernel floor, 1 update/write".into(),
                    "floor",
                    x,
                    spread(&rs, "floor_us_per_send"),
                );
                push(
                    "kernel floor, 10 updates/write".into(),
                    "floor",
                    x,
                    spread(&rs, "floor_us_per_update_batched"),
                );
            } else {
                push(server.clone(), &server, x, spread(&rs, key));
            }
        }
    }
    for l in &mut lines {
        l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    lines
}

/// Writes every chart the results have data for into `dir`; returns the
/// files written.
pub fn write_all(runs: &[Run], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let lines = fanout_lines(runs);
    if !lines.is_empty() {
        let path = dir.join("fanout.svg");
        fanout_chart(&path, &lines)?;
        written.push(path);
    }
    let bars: [(&str, &str, &str, &str); 5] = [
        (
            "batch",
            "batch.svg",
            "server_cpu_us_per_update",
            "Batch: 200 clients x 10 channels; server CPU µs per delivered update",
        ),
        (
            "heavy",
            "heavy.svg",
            "server_cpu_us_per_update",
            "Heavy item: 1 client, 50 000 updates/s; server CPU µs per delivered update",
        ),
        (
            "idle",
            "idle.svg",
            "server_rss_per_session_kib",
            "Idle clients: server RSS KiB per client",
        ),
        (
            "storm",
            "storm.svg",
            "sessions_per_s",
            "Session storm: sessions per second",
        ),
        (
            "storm",
            "storm-cpu.svg",
            "server_cpu_us_per_session",
            "Session storm: server CPU µs per session",
        ),
    ];
    for (workload, file, key, title) in bars {
        let Some((scenario, _)) = scenarios(runs).into_iter().find(|(_, w)| w == workload) else {
            continue;
        };
        let values: Vec<(String, Spread)> = by_server(runs, &scenario)
            .into_iter()
            .filter_map(|(server, rs)| spread(&rs, key).map(|s| (server, s)))
            .collect();
        if values.is_empty() {
            continue;
        }
        let path = dir.join(file);
        bar_chart(&path, title, &values)?;
        written.push(path);
    }
    Ok(written)
}

fn fanout_chart(path: &Path, lines: &[Line]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let xmax = all().map(|p| p.0).fold(0.0, f64::max) * 1.05;
    let ymax = all().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Fan-out, 10 updates/s: server CPU µs per delivered update",
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax.max(1.0), 0.0..ymax.max(1e-3))?;
    chart
        .configure_mesh()
        .x_desc("clients on the channel")
        .y_desc("CPU µs per update")
        .label_style((FONT, 14))
        .draw()?;
    for line in lines {
        let c = colour(&line.colour_of);
        let dashed = line.name.contains("10 updates");
        let style = if dashed {
            c.mix(0.5).stroke_width(2)
        } else {
            c.stroke_width(2)
        };
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style))?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Bars of medians, one per server, with a line from the smallest to the
/// largest round.
fn bar_chart(path: &Path, title: &str, values: &[(String, Spread)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let n = u32::try_from(values.len()).unwrap_or(u32::MAX);
    let ymax = values.iter().map(|(_, s)| s.max).fold(0.0, f64::max) * 1.15;
    let names: Vec<String> = values.iter().map(|(s, _)| s.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((0u32..n).into_segmented(), 0.0..ymax.max(1e-3))?;
    let label = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(values.len())
        .x_label_formatter(&label)
        .label_style((FONT, 14))
        .draw()?;
    for (i, (server, s)) in values.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let c = colour(server);
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), s.median),
            ],
            c.filled(),
        );
        bar.set_margin(0, 0, 18, 18);
        chart.draw_series(std::iter::once(bar))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (SegmentValue::CenterOf(i), s.min),
                (SegmentValue::CenterOf(i), s.max),
            ],
            BLACK.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{:.3}", s.median)
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_owned(),
            (SegmentValue::CenterOf(i), s.max),
            (FONT, 13),
        )))?;
    }
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::parse;

    fn sample() -> Vec<Run> {
        let mut text = String::new();
        for (n, shoal, peer, floor) in [(1000, 10.0, 20.0, 4.0), (2000, 11.0, 25.0, 4.5)] {
            text += &format!(
                "{{\"scenario\":\"fanout-{n}\",\"workload\":\"fanout\",\"server\":\"shoal\",\"round\":1,\"clients\":{n},\"server_cpu_us_per_update\":{shoal}}}\n\
                 {{\"scenario\":\"fanout-{n}\",\"workload\":\"fanout\",\"server\":\"nchan\",\"round\":1,\"clients\":{n},\"server_cpu_us_per_update\":{peer}}}\n\
                 {{\"scenario\":\"fanout-{n}\",\"workload\":\"floor\",\"server\":\"floor\",\"round\":1,\"clients\":{n},\"floor_us_per_send\":{floor},\"floor_us_per_update_batched\":0.5}}\n"
            );
        }
        text += "{\"scenario\":\"idle\",\"workload\":\"idle\",\"server\":\"shoal\",\"round\":1,\"clients\":5000,\"server_rss_per_session_kib\":12.5}\n";
        parse(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lines_per_server_and_floor() {
        let lines = fanout_lines(&sample());
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "shoal",
                "nchan",
                "kernel floor, 1 update/write",
                "kernel floor, 10 updates/write"
            ]
        );
        assert_eq!(lines[1].points, [(1000.0, 20.0), (2000.0, 25.0)]);
    }

    #[test]
    fn writes_svg_with_text() {
        let dir = std::env::temp_dir().join(format!("benchplot-test-{}", std::process::id()));
        let files = write_all(&sample(), &dir).unwrap_or_else(|e| panic!("{e:#}"));
        let names: Vec<String> = files
            .iter()
            .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, ["fanout.svg", "idle.svg"]);
        let svg = std::fs::read_to_string(&files[0]).unwrap_or_default();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        // Text is kept as text: the legend and axis labels are readable.
        assert!(svg.contains("kernel floor, 1 update/write"));
        assert!(svg.contains("clients on the channel"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
