//! Child processes for benchmarks: the mock upstream and the gateway, each in its own
//! process so that its memory can be measured alone.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::client::HttpClient;

/// A child that is killed when dropped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    /// Starts `tracegate <args>` and waits until `ready_path` answers 200.
    pub async fn start(
        client: &HttpClient,
        args: &[&str],
        env: &[(&str, &str)],
        addr: SocketAddr,
        ready_path: &str,
    ) -> anyhow::Result<Proc> {
        let exe = std::env::current_exe().context("cannot find the tracegate executable")?;
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start tracegate {}", args.join(" ")))?;
        let proc = Proc { child };
        let url = format!("http://{addr}{ready_path}");
        for _ in 0..200 {
            if let Ok((status, _, _)) = crate::client::send(
                client,
                http::Method::GET,
                &url,
                &[("anthropic-version", "2023-06-01")],
                bytes::Bytes::new(),
            )
            .await
            {
                if status.is_success() {
                    return Ok(proc);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("tracegate {} did not become ready at {url}", args.join(" "))
    }

    /// Peak resident memory of the process (VmHWM), in bytes.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        let pid = self.child.id()?;
        read_vm_hwm(Path::new(&format!("/proc/{pid}/status")))
    }

    /// Asks the process to stop (SIGTERM via `kill`) and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => self.child.kill().await?,
        }
        Ok(())
    }
}

fn read_vm_hwm(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A free loopback port (bound then released).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}
