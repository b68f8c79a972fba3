//! CPU time, memory, threads and open files of a process, read from Linux's
//! /proc: what `/metrics` reports of the server itself and what the load
//! generator measures of the server under test. No dependencies, no
//! `unsafe`: only files are read.

mod parse;

pub use parse::{busy_ticks, cpu_ticks, start_ticks, status_kib, status_number};

use std::sync::OnceLock;
use std::time::Duration;

/// A figure that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("unexpected format of {0}")]
    Format(String),
}

/// What the process of a pid (or `self`) uses now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User plus system time, all threads.
    pub cpu: Duration,
    /// Resident set size, bytes (`VmRSS`).
    pub rss: u64,
    /// The process's own high-water mark of its resident set, bytes (`VmHWM`).
    pub hwm: u64,
    /// Threads of the process now.
    pub threads: u64,
    /// Open file descriptors (entries of /proc/PID/fd); `None` when that
    /// folder cannot be listed (another user's process).
    pub open_fds: Option<u64>,
    /// When the process started, in seconds since the Unix epoch; `None`
    /// if the boot time is not in /proc/stat.
    pub start_time: Option<f64>,
}

/// Reads the figures of process `pid` (a number, or `self`).
pub fn read(pid: &str) -> Result<ProcessStats, ProcError> {
    let dir = format!("/proc/{pid}");
    let stat_path = format!("{dir}/stat");
    let status_path = format!("{dir}/status");
    let stat = read_file(&stat_path)?;
    let status = read_file(&status_path)?;
    let ticks = cpu_ticks(&stat).ok_or_else(|| ProcError::Format(stat_path.clone()))?;
    let rss = status_kib(&status, "VmRSS:").ok_or(ProcError::Format(status_path))?;
    let hwm = status_kib(&status, "VmHWM:").unwrap_or(rss);
    let open_fds = std::fs::read_dir(format!("{dir}/fd"))
        .ok()
        .map(|entries| entries.count() as u64);
    let start_time = start_ticks(&stat)
        .zip(boot_time())
        .map(|(ticks, boot)| boot as f64 + ticks as f64 / clock_ticks() as f64);
    Ok(ProcessStats {
        cpu: Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64),
        rss: rss * 1024,
        hwm: hwm * 1024,
        threads: status_number(&status, "Threads:").unwrap_or(0),
        open_fds,
        start_time,
    })
}

/// The figures of this process.
pub fn read_self() -> Result<ProcessStats, ProcError> {
    read("self")
}

/// CPU time every process of the machine has used since boot (all cores,
/// idle and I/O wait excluded), from the first line of /proc/stat.
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks = busy_ticks(stat.lines().next()?)?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

fn read_file(path: &str) -> Result<String, ProcError> {
    std::fs::read_to_string(path).map_err(|source| ProcError::Read {
        path: path.to_owned(),
        source,
    })
}

/// When the machine booted, in seconds since the Unix epoch (`btime` of
/// /proc/stat); read once, it does not change.
fn boot_time() -> Option<u64> {
    static BOOT: OnceLock<Option<u64>> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// `getconf CLK_TCK`: 100 on every common Linux platform, asked anyway, once
/// (not from inside a measured window).
pub fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself() {
        let me = match read_self() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert!(me.rss > 0);
        assert!(me.hwm >= me.rss);
        assert!(me.threads >= 1);
        // At least stdin/stdout/stderr or the test harness's own files.
        assert!(me.open_fds.is_some_and(|n| n > 0));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        // Started before now, and not a day ago (ticks since boot were
        // turned into a date correctly).
        let start = me.start_time.unwrap_or(0.0);
        assert!(
            start <= now + 1.0 && start > now - 86_400.0,
            "{start} vs {now}"
        );
        assert!(machine_busy().is_some());
    }

    #[test]
    fn a_missing_process_is_an_error() {
        assert!(matches!(read("0"), Err(ProcError::Read { .. })));
    }
}
