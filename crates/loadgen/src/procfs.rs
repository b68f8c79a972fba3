//! Resident memory and CPU time of a process, read from Linux's /proc.

use anyhow::{bail, Context};
use std::sync::OnceLock;
use std::time::Duration;

/// CPU time and memory of one process at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// User plus system time, all threads.
    pub cpu: Duration,
    /// Resident set size, bytes (`VmRSS`).
    pub rss: u64,
    /// The process's own high-water mark of its resident set, bytes (`VmHWM`).
    pub hwm: u64,
}

/// Reads one process (a pid, or `self`).
#[derive(Debug, Clone)]
pub struct Probe {
    dir: String,
}

impl Probe {
    pub fn new(pid: &str) -> anyhow::Result<Self> {
        let probe = Self {
            dir: format!("/proc/{pid}"),
        };
        probe
            .sample()
            .with_context(|| format!("cannot read process {pid} under /proc"))?;
        Ok(probe)
    }

    pub fn sample(&self) -> anyhow::Result<Sample> {
        let stat = std::fs::read_to_string(format!("{}/stat", self.dir))
            .with_context(|| format!("reading {}/stat", self.dir))?;
        let status = std::fs::read_to_string(format!("{}/status", self.dir))
            .with_context(|| format!("reading {}/status", self.dir))?;
        let ticks = cpu_ticks(&stat).context("unexpected format of /proc/PID/stat")?;
        let rss = status_kib(&status, "VmRSS:").context("no VmRSS in /proc/PID/status")?;
        let hwm = status_kib(&status, "VmHWM:").unwrap_or(rss);
        Ok(Sample {
            cpu: Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64),
            rss: rss * 1024,
            hwm: hwm * 1024,
        })
    }
}

/// `utime + stime` (fields 14 and 15) of a /proc/PID/stat line. The command
/// name (field 2) is in parentheses and may itself hold spaces or parentheses,
/// so fields are counted after its closing parenthesis.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // `after` starts with field 3 (state): utime is the 12th field from there.
    let mut fields = after.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   123 kB` line of /proc/PID/status, in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let mut words = line[key.len()..].split_ascii_whitespace();
    let value = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// Several processes taken as one server: CPU time and memory summed.
#[derive(Debug, Clone)]
pub struct Group(pub Vec<Probe>);

impl Group {
    pub fn sample(&self) -> anyhow::Result<Sample> {
        let mut sum = Sample {
            cpu: Duration::ZERO,
            rss: 0,
            hwm: 0,
        };
        for probe in &self.0 {
            let s = probe.sample()?;
            sum.cpu += s.cpu;
            sum.rss += s.rss;
            sum.hwm += s.hwm;
        }
        Ok(sum)
    }
}

/// CPU time every process of the machine has used since boot (all cores,
/// idle and I/O wait excluded), from the first line of /proc/stat.
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks = busy_ticks(stat.lines().next()?)?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// `user nice system idle iowait irq softirq steal ...` of the `cpu` line:
/// all but idle and iowait (guest time is already in user).
pub fn busy_ticks(line: &str) -> Option<u64> {
    let mut words = line.split_ascii_whitespace();
    if words.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = words
        .take(8)
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    Some(v.iter().sum::<u64>() - v[3] - v.get(4).copied().unwrap_or(0))
}

/// `getconf CLK_TCK`: 100 on every common Linux platform, asked anyway, once
/// (not from inside a measured window).
fn clock_ticks() -> u64 {
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

/// A process id given on the command line must name a live process.
pub fn check_pid(option: &str, pid: u32) -> anyhow::Result<Probe> {
    if pid == 0 {
        bail!("{option} 0 is not a process");
    }
    Probe::new(&pid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_an_awkward_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 \
                    250 37 0 0 20 0 9 0 100 1000000 2000 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(287));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn parses_machine_stat() {
        assert_eq!(busy_ticks("cpu  100 5 50 1000 20 3 2 1 0 0"), Some(161));
        assert_eq!(busy_ticks("cpu  100 5 50 1000"), Some(155));
        assert_eq!(busy_ticks("cpu0 100 5 50 1000 20 3 2 1 0 0"), None);
        assert_eq!(busy_ticks("cpu 1 2"), None);
        assert!(machine_busy().is_some());
    }

    #[test]
    fn parses_status() {
        let status = "Name:\tshoal\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_itself() {
        let probe = Probe::new("self");
        let sample = probe.and_then(|p| p.sample());
        match sample {
            Ok(s) => {
                assert!(s.rss > 0);
                assert!(s.hwm >= s.rss);
            }
            Err(e) => panic!("{e:#}"),
        }
    }
}
