//! The machine and the source a run is about: recorded in every JSON so that
//! evidence shown elsewhere says where and from what it came.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::model::{GitInfo, HostInfo};

/// Runs a read-only command and returns its trimmed stdout on success.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The commit of the source tree this harness was built from, when it is
/// still a git checkout; else `$CVMMAP_GIT_COMMIT` (CI images without
/// .git); else "unknown". `source` says which.
pub fn git_info() -> GitInfo {
    let src = env!("CARGO_MANIFEST_DIR");
    if Path::new(src).is_dir() {
        let sha = output("git", &["-C", src, "rev-parse", "HEAD"]);
        if let Some(commit) = sha.filter(|s| !s.is_empty()) {
            // --no-optional-locks: `status` must not refresh (write) the
            // index of a checkout others are working in.
            let dirty = output(
                "git",
                &[
                    "-C",
                    src,
                    "--no-optional-locks",
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                ],
            )
            .map(|s| !s.is_empty());
            return GitInfo {
                commit,
                source: "git",
                dirty,
            };
        }
    }
    match std::env::var("CVMMAP_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => GitInfo {
            commit: c.trim().to_owned(),
            source: "env",
            dirty: None,
        },
        _ => GitInfo {
            commit: "unknown".into(),
            source: "unknown",
            dirty: None,
        },
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The value of the first `key: value` line of /proc/cpuinfo-style text.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

pub fn host_info() -> HostInfo {
    let cpuinfo = read("/proc/cpuinfo");
    let cores = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count() as u32;
    let cores = if cores > 0 {
        cores
    } else {
        std::thread::available_parallelism().map_or(0, |n| n.get() as u32)
    };
    let memory_bytes = field(&read("/proc/meminfo"), "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024);
    let os_release = read("/etc/os-release");
    let os = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let gpu = output("nvidia-smi", &["-L"])
        .map(|s| s.lines().map(str::trim).collect::<Vec<_>>().join("; "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "none".into());
    HostInfo {
        hostname: read("/proc/sys/kernel/hostname").trim().to_owned(),
        os,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        cpu_model: field(&cpuinfo, "model name")
            .unwrap_or(std::env::consts::ARCH)
            .to_owned(),
        cpu_cores: cores,
        memory_bytes,
        gpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_host() {
        let h = host_info();
        assert!(h.cpu_cores >= 1);
        assert!(!h.kernel.is_empty());
        assert!(h.memory_bytes.unwrap_or(0) > 0);
    }

    #[test]
    fn reads_cpuinfo_fields() {
        let t = "processor\t: 0\nmodel name\t: Some CPU @ 2GHz\n";
        assert_eq!(field(t, "model name"), Some("Some CPU @ 2GHz"));
        assert_eq!(field(t, "flags"), None);
    }
}
