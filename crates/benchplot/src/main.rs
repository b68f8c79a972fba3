//! `shoal-benchplot`: reads the results of `scripts/bench.sh --peers` (JSON
//! lines, one per run) and writes the markdown tables of every workload and,
//! with `--svg-dir`, one SVG chart per workload: CPU per update against the
//! number of clients for fan-out (each server and the kernel floor), bars
//! for the others.

mod plot;
mod results;
mod table;

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shoal-benchplot",
    version,
    about = "Peer benchmark results as tables and SVG charts"
)]
struct Cli {
    /// The results file (JSON lines).
    #[arg(long)]
    results: PathBuf,
    /// Where to write the markdown tables (stdout when not given).
    #[arg(long)]
    table: Option<PathBuf>,
    /// The line above the tables.
    #[arg(long, default_value = "Peers")]
    title: String,
    /// Where to write the SVG charts.
    #[arg(long)]
    svg_dir: Option<PathBuf>,
    /// The charts' folder as the table's document links it (e.g. `bench`
    /// for docs/benchmarks.md): each chart is linked under the tables.
    #[arg(long, requires = "svg_dir")]
    svg_link: Option<String>,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("shoal-benchplot: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&cli.results)
        .with_context(|| format!("cannot read {}", cli.results.display()))?;
    let runs = results::parse(&text).with_context(|| format!("in {}", cli.results.display()))?;
    let mut md = table::render(&runs, &cli.title);
    if let Some(dir) = &cli.svg_dir {
        let files = plot::write_all(&runs, dir)?;
        if let Some(link) = &cli.svg_link {
            for f in &files {
                if let Some(name) = f.file_name().map(|n| n.to_string_lossy()) {
                    let stem = name.trim_end_matches(".svg");
                    md.push_str(&format!(
                        "![{stem}]({}/{name})\n",
                        link.trim_end_matches('/')
                    ));
                }
            }
        }
        for f in &files {
            eprintln!("shoal-benchplot: wrote {}", f.display());
        }
    }
    match &cli.table {
        Some(path) => {
            std::fs::write(path, md).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => print!("{md}"),
    }
    Ok(())
}
