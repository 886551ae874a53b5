//! Spawning, waiting, stopping and measuring real child processes.

use super::*;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("harness_sup_{tag}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn runs_waits_and_stops() {
    let dir = scratch("stop");
    let sh = Path::new("/bin/sh");
    let mut ok = Proc::spawn(&dir, "ok", sh, vec!["-c".into(), "echo hi; exit 3".into()]).unwrap();
    let far = Instant::now() + Duration::from_secs(10);
    assert_eq!(ok.wait_until(far), Wait::Exited(Exit::Code(3)));
    assert_eq!(ok.stdout_text(), "hi\n");
    let mut slow = Proc::spawn(&dir, "slow", sh, vec!["-c".into(), "sleep 30".into()]).unwrap();
    let soon = Instant::now() + Duration::from_millis(100);
    assert_eq!(slow.wait_until(soon), Wait::TimedOut);
    assert_eq!(slow.stop("test"), Exit::Signal(libc::SIGTERM));
    let rec = slow.record();
    assert_eq!(rec.signal, Some(libc::SIGTERM));
    assert_eq!(rec.stopped_by_harness.as_deref(), Some("test"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn measures_cpu_and_memory_of_one_child() {
    let dir = scratch("usage");
    // Busy for a moment, so that some CPU time is accounted.
    let script = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 4";
    let sh = Path::new("/bin/sh");
    let mut p = Proc::spawn(&dir, "busy", sh, vec!["-c".into(), script.into()]).unwrap();
    let far = Instant::now() + Duration::from_secs(30);
    assert_eq!(p.wait_until(far), Wait::Exited(Exit::Code(4)));
    let u = p.ended().unwrap().usage.unwrap();
    assert!(u.user_ms + u.sys_ms > 0.0, "{u:?}");
    assert!(u.max_rss_kib > 0, "{u:?}");
    assert_eq!(p.record().exit_code, Some(4));
    let _ = std::fs::remove_dir_all(&dir);
}
