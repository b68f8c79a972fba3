//! Resident memory and CPU time of the processes under test, read from
//! Linux's /proc (through `shoal-procstat`, which the server uses for its
//! own `/metrics` too).

use anyhow::{bail, Context};
use std::time::Duration;

pub use shoal_procstat::machine_busy;

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
    pid: String,
}

impl Probe {
    pub fn new(pid: &str) -> anyhow::Result<Self> {
        let probe = Self {
            pid: pid.to_owned(),
        };
        probe
            .sample()
            .with_context(|| format!("cannot read process {pid} under /proc"))?;
        Ok(probe)
    }

    pub fn sample(&self) -> anyhow::Result<Sample> {
        let s = shoal_procstat::read(&self.pid)?;
        Ok(Sample {
            cpu: s.cpu,
            rss: s.rss,
            hwm: s.hwm,
        })
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
        assert!(check_pid("--server-pid", 0).is_err());
    }
}
