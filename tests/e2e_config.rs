//! Settings from three places besides the built-in defaults: the command
//! line beats the environment (`CVMMAP_*`), which beats `--config
//! FILE.toml`. Proven on what a run does (frames encoded), not only on what
//! `--print-config` says; `--print-config` redacts secrets, reads back as
//! a config file, and bad files are one-line errors with exit code 2.

mod common;

use std::process::{Command, Output};

use common::{Scratch, assert_exit};

/// The streamer (or `program`) with the environment cleared of CVMMAP_*
/// (a developer's shell must not change the test), plus `env`.
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(common::bin(program));
    for (k, _) in std::env::vars() {
        if k.starts_with("CVMMAP_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied()).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The line of `key` in a `--print-config` output.
fn line<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{printed}"))
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let s = Scratch::new("layers");
    let file = s.path("streamer.toml");
    std::fs::write(
        &file,
        "input-mode = \"dummy\"\ncodec = \"h264\"\nno_nats = true\ndummy-frames = 12\ndummy-fps = 300\n",
    )
    .unwrap();
    let summary = s.path("summary.json");
    let base = [
        "--config",
        file.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    // (flags, environment, frames expected, origin expected)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], u64, &'a str);
    let cases: [Case; 3] = [
        (&[], &[], 12, "file"),
        (
            &[],
            &[("CVMMAP_DUMMY_FRAMES", "20")],
            20,
            "env CVMMAP_DUMMY_FRAMES",
        ),
        (
            &["--dummy-frames", "30"],
            &[("CVMMAP_DUMMY_FRAMES", "20")],
            30,
            "flag",
        ),
    ];
    for (flags, env, frames, origin) in cases {
        let args: Vec<&str> = base.iter().chain(flags).copied().collect();
        // What it says it will do...
        let mut printing = args.clone();
        printing.push("--print-config");
        let o = run("cvmmap_streamer", &printing, env);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}{err}");
        let l = line(&out, "dummy_frames");
        assert!(
            l.starts_with(&format!("dummy_frames = {frames}  # {origin}")),
            "{l}"
        );
        assert!(line(&out, "codec").ends_with(&format!("# file {}", file.display())));
        assert!(line(&out, "gop").ends_with("# default"), "{out}");
        // ...and what it does.
        let _ = std::fs::remove_file(&summary);
        let mut p = common::Proc::spawn_env(
            &common::bin("cvmmap_streamer"),
            &args,
            env,
            s.path("streamer.log"),
        );
        assert_exit(&mut p, common::stack::T, 0);
        let sum: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        assert_eq!(sum["stats"]["frames_encoded"], frames, "{origin}: {sum}");
    }
}

#[test]
fn print_config_redacts_secrets_and_reads_back_as_a_file() {
    let s = Scratch::new("printcfg");
    let file = s.path("in.toml");
    std::fs::write(
        &file,
        "nats-url = \"nats://admin:s3cret@127.0.0.1:4222\"\nrtmp = true\n",
    )
    .unwrap();
    let args = [
        "--config",
        file.to_str().unwrap(),
        "--input-mode",
        "dummy",
        "--codec",
        "h264",
        "--nats-user",
        "admin",
        "--print-config",
    ];
    let env = [
        ("CVMMAP_NATS_PASSWORD", "hunter2"),
        ("CVMMAP_RTMP_URL", "rtmp://127.0.0.1:1935/live/streamkey123"),
    ];
    let o = run("cvmmap_streamer", &args, &env);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    for secret in ["hunter2", "s3cret", "streamkey123"] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} shown:\n{out}"
        );
    }
    assert_eq!(
        line(&out, "rtmp_url"),
        "rtmp_url = [\"rtmp://127.0.0.1:1935/live/***\"]  # env CVMMAP_RTMP_URL, redacted"
    );
    assert!(line(&out, "nats_password").starts_with("nats_password = \"***\""));
    assert!(line(&out, "nats_url").contains("nats://admin:***@127.0.0.1:4222"));
    assert!(out.contains("# nats_token (unset)"), "{out}");

    // The output is a config file: read back, every value the same, now
    // from the file (the redacted ones say *** and are dropped here).
    let parsed: toml::Table = out.parse().expect("print-config output is TOML");
    let back = s.path("back.toml");
    let kept: toml::Table = parsed
        .into_iter()
        .filter(|(k, _)| !["rtmp_url", "nats_password", "nats_url"].contains(&k.as_str()))
        .collect();
    std::fs::write(&back, toml::to_string(&kept).unwrap()).unwrap();
    let o2 = run(
        "cvmmap_streamer",
        &["--config", back.to_str().unwrap(), "--print-config"],
        &[],
    );
    let (out2, err2) = text(&o2);
    // rtmp = true without its URL: printed, then refused.
    assert_eq!(o2.status.code(), Some(2), "{out2}{err2}");
    assert!(err2.contains("--rtmp-url"), "{err2}");
    for key in ["codec", "input_mode", "gop", "dummy_frames", "rtp_mtu"] {
        let value = |l: &str| l.split("  #").next().unwrap().to_owned();
        assert_eq!(value(line(&out2, key)), value(line(&out, key)), "{key}");
        assert!(line(&out2, key).contains("# file "), "{key}");
    }
}

#[test]
fn bad_files_and_values_are_one_line_errors() {
    let s = Scratch::new("badcfg");
    let cases = [
        (
            "unknown.toml",
            "codec = \"h264\"\nrtp-endpont = \"x\"\n",
            "rtp-endpont",
        ),
        ("syntax.toml", "codec = \n", "--config"),
        ("list.toml", "codec = [\"h264\"]\n", "one value"),
        (
            "value.toml",
            "codec = \"vp9\"\ninput-mode = \"dummy\"\n",
            "vp9",
        ),
    ];
    for (name, body, needle) in cases {
        let f = s.path(name);
        std::fs::write(&f, body).unwrap();
        let o = run("cvmmap_streamer", &["--config", f.to_str().unwrap()], &[]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
    }
    let o = run("cvmmap_streamer", &["--config", "/nonexistent/x.toml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    // An environment value is checked like a flag's.
    let o = run(
        "cvmmap_streamer",
        &["--input-mode", "dummy", "--codec", "h264"],
        &[("CVMMAP_GOP", "0")],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--gop"), "{err}");
}

#[test]
fn the_recorder_takes_the_same_layers() {
    let s = Scratch::new("reccfg");
    let f = s.path("rec.toml");
    std::fs::write(&f, "source = [\"cam0\", \"cam1\"]\ncodec = \"h265\"\n").unwrap();
    let o = run(
        "cvmmap_record",
        &["--config", f.to_str().unwrap(), "--print-config"],
        &[("CVMMAP_OUTPUT", "/tmp/x.mcap")],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        line(&out, "source").starts_with("source = [\"cam0\", \"cam1\"]  # file"),
        "{out}"
    );
    assert_eq!(
        line(&out, "output"),
        "output = \"/tmp/x.mcap\"  # env CVMMAP_OUTPUT"
    );
}
