//! The machine a run measures on: cores, CPU model, memory and the load average.

use serde::Serialize;

/// The hardware facts recorded with every run.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Cores this process may use, as `nproc` prints.
    pub cores: usize,
    pub cpu_model: String,
    pub memory_total_kib: u64,
}

impl Machine {
    /// Reads the machine facts from `/proc`. A missing field reads as `unknown` or 0.
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            memory_total_kib: kib_field(&meminfo, "MemTotal").unwrap_or(0),
        }
    }
}

/// Returns the 1-minute load average from `/proc/loadavg`, or -1 when it cannot be read.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

/// Returns the value of the first `name: value` line.
pub fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// Returns a `name: 1234 kB` field of a `/proc` file in KiB.
pub fn kib_field(text: &str, name: &str) -> Option<u64> {
    field(text, name)?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kib_field_reads_proc_status_line() {
        let status = "Name:\tmep24web\nVmHWM:\t  81234 kB\nVmRSS:\t  70000 kB\n";
        assert_eq!(kib_field(status, "VmHWM"), Some(81234));
        assert_eq!(kib_field(status, "VmRSS"), Some(70000));
        assert_eq!(kib_field(status, "VmSwap"), None);
    }
}
