//! The markdown tables: one per workload, one row per server (and the
//! kernel floor beside each fan-out size), figures as the median over the
//! rounds with their range, and Shoal's main figure over each other's,
//! paired round by round.

use crate::results::{by_server, ratio, scenarios, spread, Run, Spread};
use std::fmt::Write;

/// The figure a workload is compared on: its key, and its heading.
pub fn main_figure(workload: &str) -> (&'static str, &'static str) {
    match workload {
        "idle" => ("server_rss_per_session_kib", "server RSS KiB/client"),
        "storm" => ("server_cpu_us_per_session", "server CPU µs/session"),
        _ => ("server_cpu_us_per_update", "server CPU µs/update"),
    }
}

/// `12.3 (11.0..14.1)`, or the median alone for one round.
pub fn show(s: Option<Spread>, decimals: usize) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.count == 1 || s.min == s.max => format!("{:.*}", decimals, s.median),
        Some(s) => format!(
            "{:.*} ({:.*}..{:.*})",
            decimals, s.median, decimals, s.min, decimals, s.max
        ),
    }
}

/// Two decimals below 10, one below 100, none above: enough for figures
/// measured on a noisy machine.
fn decimals(s: Option<Spread>) -> usize {
    match s.map(|s| s.median.abs()) {
        Some(v) if v < 10.0 => 2,
        Some(v) if v < 100.0 => 1,
        _ => 0,
    }
}

fn auto(s: Option<Spread>) -> String {
    show(s, decimals(s))
}

/// Every table, with a title line.
pub fn render(runs: &[Run], title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title}\n");
    let mut kinds: Vec<String> = Vec::new();
    for (_, w) in scenarios(runs) {
        if !kinds.contains(&w) {
            kinds.push(w);
        }
    }
    for kind in kinds {
        let _ = writeln!(out, "{}", heading(&kind));
        out.push('\n');
        out.push_str(&table(runs, &kind));
        out.push('\n');
    }
    out
}

fn heading(kind: &str) -> &'static str {
    match kind {
        "fanout" => "**Fan-out**: N clients on one channel, 10 updates/s; the kernel floor is `shoal-load floor` (one `write` of 40 bytes per update, and 10 updates per `write`).",
        "batch" => "**Batch**: 200 clients, each subscribed to 10 channels (rate-10 .. rate-19, 145 updates/s a client) on one connection.",
        "heavy" => "**Heavy item**: one client, one channel at 50 000 updates/s (what the publisher could not send is in the last column).",
        "idle" => "**Idle clients**: connected and subscribed, no update; the server's RSS growth from before the first client to the end, per client.",
        "storm" => "**Session storm**: workers opening, subscribing (first answer) and closing sessions as fast as they can.",
        _ => "**Other**",
    }
}

fn table(runs: &[Run], kind: &str) -> String {
    let (key, head) = main_figure(kind);
    let mut out = String::new();
    match kind {
        "storm" => {
            let _ = writeln!(out, "| workers | server | sessions/s | {head} | Shoal/server {head} | setup p50 / p99 ms | failures |");
            let _ = writeln!(out, "|--:|---|--:|--:|--:|--:|--:|");
        }
        "idle" => {
            let _ = writeln!(
                out,
                "| clients | server | {head} | Shoal/server | server CPU % (idle) |"
            );
            let _ = writeln!(out, "|--:|---|--:|--:|--:|");
        }
        _ => {
            let _ = writeln!(out, "| clients | server | delivered/expected | {head} | Shoal/server | latency p50 / p99 ms | server RSS KiB/client | publisher skipped |");
            let _ = writeln!(out, "|--:|---|--:|--:|--:|--:|--:|--:|");
        }
    }
    for (scenario, _) in scenarios(runs).into_iter().filter(|(_, w)| w == kind) {
        let groups = by_server(runs, &scenario);
        let shoal = groups
            .iter()
            .find(|(s, _)| s == "shoal")
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        for (server, rs) in &groups {
            let clients = rs.first().map_or(0, |r| r.clients);
            let ok = rs.iter().any(|r| r.failed.is_none());
            if !ok {
                let why = rs.iter().find_map(|r| r.failed.clone()).unwrap_or_default();
                let _ = writeln!(out, "| {clients} | {server} | FAILED: {why} |");
                continue;
            }
            let failed_rounds = rs.iter().filter(|r| r.failed.is_some()).count();
            let name = if failed_rounds > 0 {
                format!("{server} ({failed_rounds} round(s) failed)")
            } else {
                server.clone()
            };
            let vs = |other_key: &str| {
                if server == "shoal" {
                    "1".to_owned()
                } else {
                    show(ratio(&shoal, key, rs, other_key), 2)
                }
            };
            if server == "floor" {
                let one = spread(rs, "floor_us_per_send");
                let many = spread(rs, "floor_us_per_update_batched");
                let _ = writeln!(
                    out,
                    "| {clients} | kernel floor, 1 update/write | - | {} | {} | - | - | - |",
                    auto(one),
                    vs("floor_us_per_send")
                );
                let _ = writeln!(
                    out,
                    "| {clients} | kernel floor, 10 updates/write | - | {} | {} | - | - | - |",
                    auto(many),
                    vs("floor_us_per_update_batched")
                );
                continue;
            }
            let main = spread(rs, key);
            match kind {
                "storm" => {
                    let _ = writeln!(
                        out,
                        "| {clients} | {name} | {} | {} | {} | {} / {} | {} |",
                        auto(spread(rs, "sessions_per_s")),
                        auto(main),
                        vs(key),
                        auto(spread(rs, "latency_p50_ms")),
                        auto(spread(rs, "latency_p99_ms")),
                        show(spread(rs, "failures"), 0),
                    );
                }
                "idle" => {
                    let _ = writeln!(
                        out,
                        "| {clients} | {name} | {} | {} | {} |",
                        auto(main),
                        vs(key),
                        auto(spread(rs, "server_cpu_percent")),
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "| {clients} | {name} | {} | {} | {} | {} / {} | {} | {} |",
                        show(spread(rs, "ratio"), 3),
                        auto(main),
                        vs(key),
                        auto(spread(rs, "latency_p50_ms")),
                        auto(spread(rs, "latency_p99_ms")),
                        auto(spread(rs, "server_rss_per_session_kib")),
                        spread(rs, "publisher_skipped").map_or("-".into(), |s| show(Some(s), 0)),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::parse;

    #[test]
    fn spreads_are_shown_with_their_range() {
        let s = Spread::of([1.0, 2.0, 4.0]);
        assert_eq!(show(s, 1), "2.0 (1.0..4.0)");
        assert_eq!(show(Spread::of([3.0]), 2), "3.00");
        assert_eq!(show(None, 2), "-");
        assert_eq!(auto(Spread::of([123.4])), "123");
    }

    #[test]
    fn fanout_rows_with_the_floor() {
        let runs = parse(concat!(
            r#"{"scenario":"fanout-1000","workload":"fanout","server":"shoal","round":1,"clients":1000,"server_cpu_us_per_update":10,"ratio":1}"#,
            "\n",
            r#"{"scenario":"fanout-1000","workload":"fanout","server":"mosquitto","round":1,"clients":1000,"server_cpu_us_per_update":5,"ratio":0.5}"#,
            "\n",
            r#"{"scenario":"fanout-1000","workload":"floor","server":"floor","round":1,"clients":1000,"floor_us_per_send":4,"floor_us_per_update_batched":0.5}"#,
            "\n",
            r#"{"scenario":"idle","workload":"idle","server":"nchan","round":1,"clients":5,"failed":"did not start"}"#,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let t = render(&runs, "Title");
        assert!(t.starts_with("Title\n\n**Fan-out**"), "{t}");
        assert!(t.contains("| 1000 | shoal | 1.000 | 10.0 | 1 |"), "{t}");
        assert!(
            t.contains("| 1000 | mosquitto | 0.500 | 5.00 | 2.00 |"),
            "{t}"
        );
        assert!(
            t.contains("| 1000 | kernel floor, 1 update/write | - | 4.00 | 2.50 |"),
            "{t}"
        );
        assert!(
            t.contains("| 1000 | kernel floor, 10 updates/write | - | 0.50 | 20.00 |"),
            "{t}"
        );
        assert!(t.contains("| 5 | nchan | FAILED: did not start |"), "{t}");
    }
}
