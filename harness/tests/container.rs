//! `harness acceptance --runtime container`: the five rows with every process
//! in its own container of the image (issue 8), evidence naming the image.
//!
//! Ignored by default, so that nextest reports it as skipped (never passed)
//! where no Docker engine answers; scripts/test.sh builds the image and runs
//! it with `--run-ignored all` where one does. Run by hand:
//!   bash scripts/docker-build.sh && cargo nextest run -p cvmmap-harness --run-ignored all container

mod common;

use common::*;
use cvmmap_harness::events::{self, Events};

/// The image scripts/docker-build.sh makes (override: CVMMAP_TEST_IMAGE).
fn image() -> String {
    std::env::var("CVMMAP_TEST_IMAGE").unwrap_or_else(|_| "cvmmap-streamer:local".into())
}

#[test]
#[ignore = "needs a Docker engine and the image: scripts/test.sh runs it where one answers"]
fn acceptance_in_containers_passes_and_names_the_image() {
    let image = image();
    let present = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .output()
        .expect("docker CLI");
    assert!(
        present.status.success(),
        "image {image} missing: build it with scripts/docker-build.sh"
    );
    let id = String::from_utf8_lossy(&present.stdout).trim().to_owned();
    let ev = Scratch::new("container");
    let args = [
        "acceptance",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--runtime",
        "container",
        "--image",
        &image,
    ];
    let stdout = harness_passes(&args, "total=5 pass=5 fail=0 skip=0");
    let run = run_dir(&stdout);
    assert_eq!(validate_run(&run), 7);
    let s = read(&run.join("summary.json"));
    assert_eq!(s["runtime"], "container");
    assert_eq!(s["container"]["image"], image.as_str());
    assert_eq!(s["container"]["image_id"], id.as_str());
    for row in s["rows"].as_array().unwrap() {
        let r = read(&run.join(row["result"].as_str().unwrap()));
        assert_eq!(r["runtime"], "container", "{r:#}");
        assert_eq!(r["container"]["image_id"], id.as_str(), "{r:#}");
        // The containers' logs and the streamer's events were written
        // into the evidence.
        if r["negative"] == false {
            let dir = run.join(r["row"].as_str().unwrap());
            assert!(dir.join("streamer.stderr.log").is_file(), "{r:#}");
            let events = Events::read(&events::file(&dir, "streamer"));
            assert!(events.first(events::INGEST_STARTED).is_some(), "{events:?}");
        }
    }
}

#[test]
fn container_runtime_without_an_image_flag_is_a_usage_error() {
    let ev = Scratch::new("noimage");
    let out = harness(&[
        "acceptance",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--runtime",
        "container",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--image"),
        "{}",
        text(&out.stderr)
    );
}
