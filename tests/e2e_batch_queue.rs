//! Batches on a NATS JetStream work queue (a real `nats-server -js`): two
//! `cvmmap_tools worker` processes run twelve real re-encode jobs, one of
//! them SIGKILLed mid-job; its job is delivered again to the other, and
//! every job has exactly one result. And a job no worker ever finishes is
//! given up after its last delivery and reported failed, to a `wait` that
//! listened and to one that came later.

mod common;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::nats::NatsServer;
use common::record::{record_rig, tools};
use common::{Proc, Scratch, bin, wait_for_log};
use cvmmap_streamer::batch::queue::{self, QueueConfig, QueueEvent, WaitReport};
use cvmmap_streamer::batch::{Job, Verb};
use futures_util::StreamExt;

const LABELS: [&str; 4] = ["a", "b", "c", "d"];

fn config(server: &NatsServer, ack_wait_s: u64, max_deliver: i64) -> QueueConfig {
    QueueConfig {
        url: server.url(),
        jobs_stream: "CVMMAP_JOBS".into(),
        results_stream: "CVMMAP_RESULTS".into(),
        ack_wait: Duration::from_secs(ack_wait_s),
        max_deliver,
    }
}

/// `queue::wait_report` on its own thread: (its answer, the events it saw)
/// come back on the channel.
type Waited = (Result<WaitReport, String>, Vec<QueueEvent>);

fn spawn_wait(cfg: &QueueConfig, batch: &str, jobs: &[Job]) -> mpsc::Receiver<Waited> {
    let (cfg, batch, jobs) = (cfg.clone(), batch.to_owned(), jobs.to_vec());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut events = Vec::new();
        let r = queue::wait_report(&cfg, &batch, &jobs, &mut |e| events.push(e));
        let _ = tx.send((r.map_err(|e| e.to_string()), events));
    });
    rx
}

/// The id in a worker's `job started` line (`... job started id=XXXX ...`).
fn started_id(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("job started"))?;
    let at = line.find(" id=")? + 4;
    Some(line[at..].split_whitespace().next()?.to_owned())
}

/// Messages of the results stream on `subject`.
fn results_on(url: &str, stream: &str, subject: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let s = js.get_stream(stream).await.unwrap();
        let info = s.info_with_subjects(subject).await.unwrap();
        let mut n = 0;
        let mut subjects = info;
        while let Some(Ok((subj, count))) = subjects.next().await {
            if subj == subject {
                n += count as u64;
            }
        }
        n
    })
}

/// Messages left in a stream.
fn stream_messages(url: &str, stream: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut s = js.get_stream(stream).await.unwrap();
        s.info().await.unwrap().state.messages
    })
}

#[test]
fn e2e_batch_queue_two_workers_one_killed_every_job_once() {
    let t0 = Instant::now();
    let s = Scratch::new("batch_queue");
    let js_dir = s.path("js");
    let server = NatsServer::start(&s, &["-js", "-sd", js_dir.to_str().unwrap()]);
    let cfg = config(&server, 3, 3);

    // One real 4-camera recording, twelve copies of it.
    let src = record_rig(&s.0, "src.mcap", &LABELS, "h264", 90);
    let mut jobs = Vec::new();
    for i in 0..12 {
        let dir = s.path(&format!("seg{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("rec.mcap");
        std::fs::copy(&src, &input).unwrap();
        let label = LABELS[i % LABELS.len()];
        let output = dir.join(format!("rec_{label}.mp4"));
        // A real re-encode of a second or so: a worker is killed mid-job.
        let args = [
            "--camera-label",
            label,
            "--codec",
            "h265",
            "--encoder-device",
            "software",
            "--preset",
            "medium",
        ];
        jobs.push(Job::new(
            Verb::ExportMp4,
            input,
            args.iter().map(|a| a.to_string()).collect(),
            vec![output],
            true,
        ));
    }
    let batch = "e2e-kill";
    queue::publish(&cfg, batch, &jobs).expect("publish");
    // Published twice: still twelve jobs (JetStream's dedup by job id).
    queue::publish(&cfg, batch, &jobs).expect("publish again");
    assert_eq!(stream_messages(&server.url(), &cfg.jobs_stream), 12);
    let waited = spawn_wait(&cfg, batch, &jobs);

    let url = server.url();
    let worker = |name: &str| {
        Proc::spawn(
            &bin("cvmmap_tools"),
            &[
                "worker",
                "--queue",
                &url,
                "--ack-wait-seconds",
                "3",
                "--max-deliver",
                "3",
                "--idle-exit-seconds",
                "6",
            ],
            s.path(&format!("worker_{name}.log")),
        )
    };
    let a = worker("a");
    let mut b = worker("b");
    assert!(
        wait_for_log(&a, "job started", Duration::from_secs(30)),
        "worker a took no job; log:\n{}",
        a.output()
    );
    a.signal(libc::SIGKILL);
    let killed = started_id(&a.output()).expect("the id in a's job started line");
    let a_name_suffix = format!(":{}", a.pid());

    let (report, events) = waited
        .recv_timeout(Duration::from_secs(75))
        .unwrap_or_else(|_| panic!("wait did not end; worker b:\n{}", b.output()));
    let report = report.expect("wait");
    assert_eq!(report.outcomes.len(), 12);
    assert_eq!(report.duplicates, 0, "a result came twice");
    for (o, j) in report.outcomes.iter().zip(&jobs) {
        assert_eq!(o.id, j.id);
        assert!(o.ok, "{o:?}; worker b:\n{}", b.output());
        for out in &j.outputs {
            assert!(out.exists(), "{} is missing", out.display());
            let (code, said) = tools(&["probe", out.to_str().unwrap()]);
            assert_eq!(code, 0, "{said}");
        }
        if o.id == killed {
            assert!(o.delivery >= 2, "the killed job ran once? {o:?}");
            assert!(!o.worker.ends_with(&a_name_suffix), "{o:?}");
        } else {
            assert_eq!(
                o.delivery, 1,
                "only the killed job is delivered again: {o:?}"
            );
        }
    }
    // The killed job's second start was seen by `wait`, from the other worker.
    assert!(
        events.iter().any(|e| matches!(e,
            QueueEvent::Started { id, worker, delivery }
                if *id == killed && *delivery >= 2 && !worker.ends_with(&a_name_suffix))),
        "{events:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, QueueEvent::Done(_)))
            .count(),
        12
    );
    // Exactly one result per job in the results stream; the work queue is
    // empty (every job acked).
    assert_eq!(
        results_on(
            &server.url(),
            &cfg.results_stream,
            &queue::results_subject(batch)
        ),
        12
    );
    assert_eq!(stream_messages(&server.url(), &cfg.jobs_stream), 0);

    // b ran all twelve, then went idle and left.
    assert_eq!(b.wait_code(Duration::from_secs(20)), 0, "{}", b.output());
    assert_eq!(b.output().matches("job done").count(), 12, "{}", b.output());
    eprintln!("took {:?}", t0.elapsed());
}

#[test]
fn e2e_batch_queue_job_never_acked_is_given_up_and_reported_failed() {
    let s = Scratch::new("batch_queue_giveup");
    let js_dir = s.path("js");
    let server = NatsServer::start(&s, &["-js", "-sd", js_dir.to_str().unwrap()]);
    let cfg = config(&server, 1, 2);
    let job = Job::new(
        Verb::Recover,
        PathBuf::from("/nowhere/rec.mcap"),
        Vec::new(),
        vec![PathBuf::from("/nowhere/rec_recovered.mcap")],
        false,
    );
    let jobs = vec![job.clone()];
    let batch = "e2e_giveup";
    queue::publish(&cfg, batch, &jobs).expect("publish");
    let waited = spawn_wait(&cfg, batch, &jobs);

    // A worker that takes the job and dies each time (never acks): the
    // test pulls from the workers' consumer itself.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut deliveries = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        assert!(
            Instant::now() < deadline,
            "no outcome; deliveries {deliveries:?}"
        );
        if let Ok(w) = waited.try_recv() {
            break w;
        }
        rt.block_on(async {
            let client = async_nats::connect(server.url()).await.unwrap();
            let js = async_nats::jetstream::new(client);
            let c: async_nats::jetstream::consumer::PullConsumer = js
                .get_stream(&cfg.jobs_stream)
                .await
                .unwrap()
                .get_consumer(queue::WORKERS_CONSUMER)
                .await
                .unwrap();
            let mut b = c
                .batch()
                .max_messages(1)
                .expires(Duration::from_millis(500))
                .messages()
                .await
                .unwrap();
            if let Some(Ok(m)) = b.next().await {
                deliveries.push(m.info().unwrap().delivered);
            }
        });
    };
    let (report, events) = first;
    let report = report.expect("wait");
    assert_eq!(
        deliveries,
        vec![1, 2],
        "delivered max_deliver times, no more"
    );
    let o = &report.outcomes[0];
    assert_eq!(o.id, job.id);
    assert!(!o.ok);
    assert_eq!(
        o.error.as_deref(),
        Some("gave up after 2 deliveries"),
        "{o:?}"
    );
    assert!(
        matches!(&events[..], [QueueEvent::Done(d)] if d.id == job.id),
        "{events:?}"
    );

    // A `wait` that comes later (the advisory long gone) finds it too.
    let (report, _) = spawn_wait(&cfg, batch, &jobs)
        .recv_timeout(Duration::from_secs(30))
        .expect("a later wait ends");
    let o = &report.expect("later wait").outcomes[0];
    assert!(!o.ok);
    assert_eq!(
        o.error.as_deref(),
        Some("gave up after 2 deliveries"),
        "{o:?}"
    );
}

/// The command line end to end: `batch recover ... --queue URL --wait`
/// publishes, a `worker` runs the jobs, and the batch follows them with the
/// same progress lines and exit code as a local batch; the outputs are
/// whole recordings.
#[test]
fn e2e_batch_queue_cli_publishes_and_waits() {
    let s = Scratch::new("batch_queue_cli");
    let js_dir = s.path("js");
    let server = NatsServer::start(&s, &["-js", "-sd", js_dir.to_str().unwrap()]);
    let src = record_rig(&s.0, "src.mcap", &["a"], "h264", 30);
    let root = s.path("data");
    for i in 0..3 {
        let dir = root.join(format!("seg{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&src, dir.join("rec.mcap")).unwrap();
    }
    let url = server.url();
    let mut worker = Proc::spawn(
        &bin("cvmmap_tools"),
        &["worker", "--queue", &url, "--idle-exit-seconds", "4"],
        s.path("worker.log"),
    );
    let report = s.path("report.json");
    let (code, out) = tools(&[
        "batch",
        "recover",
        root.to_str().unwrap(),
        "--recursive",
        "--queue",
        &url,
        "--wait",
        "--progress-ui",
        "text",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\nworker:\n{}", worker.output());
    assert!(out.contains("published 3 jobs"), "{out}");
    assert!(out.contains("recover: 3/3 done, 0 failed"), "{out}");
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        (rep["ok"].as_u64(), rep["queue"].as_str()),
        (Some(3), Some(url.as_str())),
        "{rep}"
    );
    for i in 0..3 {
        let out_file = root.join(format!("seg{i}")).join("rec_recovered.mcap");
        let (code, probe) = tools(&["probe", out_file.to_str().unwrap()]);
        assert_eq!(code, 0, "{probe}");
    }
    assert_eq!(
        worker.wait_code(Duration::from_secs(30)),
        0,
        "{}",
        worker.output()
    );
}
