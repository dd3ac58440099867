//! The host: CPU load against cores, memory, the process's resident memory and
//! open files, and the disk space where the store lives (read with `sysinfo`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use sysinfo::{Disks, MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::format::{bytes, pct};
use super::severity::{usage_share, Severity};
use super::{Finding, Section};

/// Free disk below this is P1: at a busy gateway's write rate, hours of traces.
const DISK_P1_BYTES: u64 = 1 << 30;
/// Free disk below this (or below 5%) is P2.
const DISK_P2_BYTES: u64 = 5 << 30;

/// What the host looks like now.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostSection {
    /// Cores this process may run on.
    pub cores: usize,
    /// Load average over 1, 5 and 15 minutes (0 where the system has none).
    pub load_1m: f64,
    /// Over 5 minutes.
    pub load_5m: f64,
    /// Over 15 minutes.
    pub load_15m: f64,
    /// Memory of the machine.
    pub memory_total_bytes: u64,
    /// Memory available to new work without swapping.
    pub memory_available_bytes: u64,
    /// The gateway process; `None` when the report was not made by the gateway.
    pub process: Option<ProcessFacts>,
    /// The file system holding the store; `None` when it is not a local file.
    pub disk: Option<DiskFacts>,
}

/// The gateway process.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProcessFacts {
    /// Resident memory.
    pub rss_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_files: Option<u64>,
    /// The most it may open (RLIMIT_NOFILE).
    pub open_files_limit: Option<u64>,
}

/// Space where the store lives.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiskFacts {
    /// The store's file.
    pub path: String,
    /// The mount point holding it.
    pub mount_point: String,
    /// Size of that file system.
    pub total_bytes: u64,
    /// Space available to the gateway there.
    pub available_bytes: u64,
}

/// Reads the host now. Blocking (reads `/proc` on Linux): run it off the async
/// threads. `process` adds this process's figures; `store` the disk holding it.
pub fn sample(process: bool, store: Option<&Path>) -> HostSection {
    let mut sys = System::new();
    sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
    let load = System::load_average();
    let process = process.then(|| process_facts(&mut sys));
    HostSection {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        load_1m: load.one,
        load_5m: load.five,
        load_15m: load.fifteen,
        memory_total_bytes: sys.total_memory(),
        memory_available_bytes: sys.available_memory(),
        process,
        disk: store.and_then(disk_facts),
    }
}

fn process_facts(sys: &mut System) -> ProcessFacts {
    let pid = Pid::from_u32(std::process::id());
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    let me = sys.process(pid);
    ProcessFacts {
        rss_bytes: me.map(|p| p.memory()),
        open_files: me.and_then(|p| p.open_files()).map(|n| n as u64),
        open_files_limit: me.and_then(|p| p.open_files_limit()).map(|n| n as u64),
    }
}

fn disk_facts(store: &Path) -> Option<DiskFacts> {
    let path = std::fs::canonicalize(store).ok()?;
    let disks = Disks::new_with_refreshed_list();
    let disk = disks
        .list()
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())?;
    Some(DiskFacts {
        path: path.display().to_string(),
        mount_point: disk.mount_point().display().to_string(),
        total_bytes: disk.total_space(),
        available_bytes: disk.available_space(),
    })
}

/// Findings for a loaded CPU, scarce memory, file descriptors near their limit
/// and a filling disk.
pub fn findings(h: &HostSection, findings: &mut Vec<Finding>) {
    let cores = h.cores.max(1) as f64;
    let per_core = h.load_1m / cores;
    // A load twice the cores means runnable work waits: the proxy's latency with it.
    let load_sev = if per_core > 2.0 {
        Some(Severity::P2)
    } else if per_core > 1.0 {
        Some(Severity::P3)
    } else {
        None
    };
    if let Some(sev) = load_sev {
        findings.push(Finding::new(
            sev,
            Section::Host,
            format!("the CPU is busy: load {:.1} on {} core(s)", h.load_1m, h.cores),
            vec![format!(
                "load average {:.2} / {:.2} / {:.2} (1, 5, 15 min)",
                h.load_1m, h.load_5m, h.load_15m
            )],
            "Work waits for a core, and the gateway's added latency and the trace writer with it. Find what else runs on the machine (top); on a shared machine set `writer_priority = \"normal\"` so traces are not dropped.",
        ));
    }
    if h.memory_total_bytes > 0 {
        let used = 1.0 - h.memory_available_bytes as f64 / h.memory_total_bytes as f64;
        if let Some(sev) = usage_share(used, 0.95, 0.9, 2.0) {
            let rss = h
                .process
                .as_ref()
                .and_then(|p| p.rss_bytes)
                .map_or(String::new(), |r| {
                    format!("; the gateway holds {}", bytes(r))
                });
            findings.push(Finding::new(
                sev,
                Section::Host,
                format!("memory is short: {} available of {}", bytes(h.memory_available_bytes), bytes(h.memory_total_bytes)),
                vec![format!("{} in use{rss}", pct(used))],
                "The store's pages drop out of the cache and queries slow down; the kernel may kill a process. Find the largest processes (ps aux --sort=-rss); lower `record_queue_bytes` if the gateway's own memory is the one growing.",
            ));
        }
    }
    if let Some((open, limit)) = h
        .process
        .as_ref()
        .and_then(|p| p.open_files.zip(p.open_files_limit))
        .filter(|(_, l)| *l > 0)
    {
        let share = open as f64 / limit as f64;
        if let Some(sev) = usage_share(share, 0.95, 0.8, 2.0) {
            findings.push(Finding::new(
                sev,
                Section::Host,
                format!("{open} of {limit} file descriptors open"),
                vec![format!("{} of RLIMIT_NOFILE", pct(share))],
                "At the limit, new client connections are refused. Raise the limit (`ulimit -n`, or LimitNOFILE= in the systemd unit) and look for clients holding idle connections open.",
            ));
        }
    }
    if let Some(d) = h.disk.as_ref().filter(|d| d.total_bytes > 0) {
        let free = d.available_bytes as f64 / d.total_bytes as f64;
        // Bytes matter more than shares on large disks: 2% of 2 TB is still 40 GB.
        let sev = if d.available_bytes < DISK_P1_BYTES {
            Some(Severity::P1)
        } else if d.available_bytes < DISK_P2_BYTES || free < 0.05 {
            Some(Severity::P2)
        } else if free < 0.10 {
            Some(Severity::P3)
        } else {
            None
        };
        if let Some(sev) = sev {
            findings.push(Finding::new(
                sev,
                Section::Host,
                format!("the disk holding the store is filling: {} free", bytes(d.available_bytes)),
                vec![format!(
                    "{} of {} free on {} ({})",
                    bytes(d.available_bytes),
                    bytes(d.total_bytes),
                    d.mount_point,
                    pct(free)
                )],
                format!("When it is full, trace batches fail and are lost. Free space on {}, or move the store (`db`) to a larger disk; a VACUUM (see the store's health) returns free pages.", d.mount_point),
            ));
        }
    }
}
