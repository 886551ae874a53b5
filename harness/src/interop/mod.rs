//! `harness interop`: the RTMP rows (H.264; H.265 enhanced `hvc1`; H.265
//! FLV codec id 12) published by the streamer, fed by `cvmmap_sim` exactly
//! as the acceptance rows are, through real servers: nginx with Debian's
//! RTMP module (started by the harness whenever it is installed), SRS,
//! ZLMediaKit and MediaMTX (started from `--srs-bin` etc., or reached with
//! `--server-url`), with ffmpeg playing each stream back.
//!
//! Judged rows pass or fail on the server's own API and the player's
//! decoded frames. nginx-rtmp's H.265 rows are *recorded*: run the same
//! way, with what the server and the player did written down, never a
//! verdict (nginx-rtmp predates H.265 in FLV). Servers not given are
//! *skipped* with the reason. Only a failed judged row fails the run.

mod api;
mod configs;
pub mod model;
mod player;
mod row;
mod server;

use std::path::{Path, PathBuf};

use crate::HarnessError;
use crate::acceptance::matrix::RowDef;
use crate::acceptance::row::RowCtx;
use crate::evidence::write_json;
use crate::interrupt;
use crate::model::{Outcome, RowEntry};
use crate::progress::Progress;
use crate::runner::{EXIT_INTERRUPTED, RunOptions, Setup, Spec, why_stopped};
use model::{
    InteropEntry, InteropResult, InteropSummary, InteropTally, ServerInfo, Tools, Verdict,
};
pub use server::{External, Kind};
use server::{Server, Unavailable};

pub struct Options {
    pub run: RunOptions,
    pub srs_bin: Option<PathBuf>,
    pub zlm_bin: Option<PathBuf>,
    pub mediamtx_bin: Option<PathBuf>,
    /// A running server (`--server-url`, `--server-api-url`, `--server-kind`).
    pub external: Option<External>,
}

pub struct Finished {
    pub summary: InteropSummary,
    pub run_dir: PathBuf,
    pub exit_code: u8,
}

/// Every row: three per server, in server order.
static ROWS: [(Kind, RowDef); 12] = [
    (Kind::Nginx, row::def("nginx_h264", "h264", None)),
    (
        Kind::Nginx,
        row::def("nginx_h265_enhanced", "h265", Some("enhanced")),
    ),
    (
        Kind::Nginx,
        row::def("nginx_h265_domestic", "h265", Some("domestic")),
    ),
    (Kind::Srs, row::def("srs_h264", "h264", None)),
    (
        Kind::Srs,
        row::def("srs_h265_enhanced", "h265", Some("enhanced")),
    ),
    (
        Kind::Srs,
        row::def("srs_h265_domestic", "h265", Some("domestic")),
    ),
    (Kind::Zlm, row::def("zlm_h264", "h264", None)),
    (
        Kind::Zlm,
        row::def("zlm_h265_enhanced", "h265", Some("enhanced")),
    ),
    (
        Kind::Zlm,
        row::def("zlm_h265_domestic", "h265", Some("domestic")),
    ),
    (Kind::Mediamtx, row::def("mediamtx_h264", "h264", None)),
    (
        Kind::Mediamtx,
        row::def("mediamtx_h265_enhanced", "h265", Some("enhanced")),
    ),
    (
        Kind::Mediamtx,
        row::def("mediamtx_h265_domestic", "h265", Some("domestic")),
    ),
];

/// Whether a row gets a verdict: nginx-rtmp's H.265 rows are recorded.
fn judged(kind: Kind, def: &RowDef) -> bool {
    !(kind == Kind::Nginx && def.codec == "h265")
}

fn title(kind: Kind, def: &RowDef) -> String {
    let what = match def.rtmp_mode {
        None => "RTMP H.264 (FLV codec id 7)",
        Some("enhanced") => "RTMP H.265 enhanced (hvc1)",
        _ => "RTMP H.265 FLV codec id 12 (--rtmp-mode domestic)",
    };
    format!("{what} through {}", kind.title())
}

impl Options {
    fn bin(&self, kind: Kind) -> Option<&Path> {
        match kind {
            Kind::Nginx => None,
            Kind::Srs => self.srs_bin.as_deref(),
            Kind::Zlm => self.zlm_bin.as_deref(),
            Kind::Mediamtx => self.mediamtx_bin.as_deref(),
        }
    }
}

pub fn run(opts: &Options, progress: &dyn Progress) -> Result<Finished, HarnessError> {
    let setup = Setup::resolve(&opts.run)?;
    let spec = Spec {
        command: "interop",
        kind: model::KIND_SUMMARY,
        summary: "summary.json",
        verdict: true,
    };
    let ctx = setup.start(spec, progress)?;
    let ff = player::locate();
    let mut summary = InteropSummary {
        head: ctx.header(),
        nats: ctx.nats_info.clone(),
        tools: Tools {
            ffmpeg: ff.as_ref().ok().map(|f| f.program.display().to_string()),
            ffmpeg_version: ff.as_ref().ok().and_then(|f| f.version.clone()),
            ffmpeg_missing: ff.as_ref().err().cloned(),
        },
        servers: Vec::new(),
        totals: InteropTally::default(),
        rows: Vec::new(),
    };
    ctx.save(&mut summary)?;
    let ff = ff.as_ref().map_err(String::as_str);
    for kind in server::ALL {
        let dir = ctx.folder.path.join(format!("server_{}", kind.as_str()));
        let reached = if interrupt::requested() {
            Err(Unavailable::Skip(
                "interrupted (SIGINT/SIGTERM) before this server started".into(),
                Box::new(server::info(kind, "none")),
            ))
        } else {
            server::open(
                kind,
                opts.bin(kind),
                opts.external.as_ref(),
                &ctx.folder.path,
                &dir,
            )
        };
        let (mut srv, not_run, info) = match reached {
            Ok(s) => {
                let info = s.info.clone();
                (Some(s), None, info)
            }
            Err(Unavailable::Skip(why, info)) => (None, Some((Verdict::Skip, why)), *info),
            Err(Unavailable::Fail(why, info)) => (None, Some((Verdict::Fail, why)), *info),
        };
        for (k, def) in ROWS.iter().filter(|(k, _)| *k == kind) {
            let entry = run_row(&ctx, *k, def, srv.as_mut(), &info, not_run.clone(), ff)?;
            summary.totals.add(entry.outcome);
            summary.rows.push(entry);
            ctx.save(&mut summary)?;
        }
        let record = srv.as_mut().and_then(Server::close);
        if let Some(rec) = record {
            let doc = serde_json::json!({"server": info, "process": rec});
            write_json(&dir.join("server.json"), &doc)?;
        }
        summary.servers.push(info);
    }
    let t = summary.totals;
    let (outcome, exit_code) = if interrupt::requested() {
        ("incomplete", EXIT_INTERRUPTED)
    } else if t.fail > 0 {
        ("fail", 1)
    } else if t.pass == 0 {
        // Nothing judged ran (no server, no player): that proves nothing.
        ("incomplete", 1)
    } else {
        ("pass", 0)
    };
    let run_dir = ctx.finish(&mut summary, Some(outcome), exit_code)?;
    Ok(Finished {
        summary,
        run_dir,
        exit_code,
    })
}

/// Runs one row (or records why it did not run) and writes its result.json.
fn run_row(
    ctx: &crate::runner::RunCtx,
    kind: Kind,
    def: &'static RowDef,
    srv: Option<&mut Server>,
    info: &ServerInfo,
    not_run: Option<(Verdict, String)>,
    ff: Result<&player::Ffmpeg, &str>,
) -> Result<InteropEntry, HarnessError> {
    let judged = judged(kind, def);
    let rc = RowCtx {
        unit: ctx.unit(def.id, def.id)?,
        def,
        sabotage: None,
    };
    let mut res = InteropResult {
        schema_version: crate::SCHEMA_VERSION,
        kind: model::KIND_ROW,
        run_id: ctx.run_id.clone(),
        row: def.id.into(),
        title: title(kind, def),
        server: info.clone(),
        codec: def.codec,
        rtmp_mode: def.rtmp_mode.unwrap_or("none (plain FLV AVC)"),
        judged,
        outcome: Verdict::Skip,
        reason: "not run".into(),
        started_at: crate::clock::rfc3339(rc.started_at),
        duration_ms: 0,
        git: ctx.git.clone(),
        host: ctx.host.clone(),
        encoder: None,
        encoder_note: None,
        counts: Default::default(),
        decode_threshold: None,
        server_view: None,
        player: None,
        observations: Vec::new(),
        checks: Vec::new(),
        processes: Vec::new(),
        artifacts: Vec::new(),
    };
    match (srv, not_run) {
        (_, Some((verdict, why))) => {
            // A server that would not start fails its judged rows; its
            // recorded rows have nothing to record.
            res.outcome = match verdict {
                Verdict::Fail if !judged => Verdict::Skip,
                v => v,
            };
            res.reason = why;
        }
        (Some(srv), None) => {
            ctx.progress.started(def.id);
            let mut procs = if interrupt::requested() {
                res.reason = "interrupted (SIGINT/SIGTERM) before this row started".into();
                Vec::new()
            } else {
                row::run(&rc, srv, ff, judged, &mut res)
            };
            res.processes = rc.close(&mut procs, why_stopped("row finished"));
            if !srv.alive() {
                let last = srv.last_log_line().unwrap_or_default();
                res.observations
                    .push(format!("the server exited during the row: {last}"));
                if judged {
                    res.outcome = Verdict::Fail;
                    res.reason = format!("the server exited during the row: {last}");
                }
            }
        }
        (None, None) => unreachable!("a server or the reason it is absent"),
    }
    rc.write_result(&mut res)?;
    let entry = InteropEntry {
        row: def.id.into(),
        server: kind.as_str(),
        judged,
        outcome: res.outcome,
        reason: res.reason.clone(),
        detail: detail(&res),
        duration_ms: res.duration_ms,
        result: Some(format!("{}/result.json", def.id)),
    };
    ctx.progress.finished(&progress_entry(&entry));
    Ok(entry)
}

/// "300 published, 297 decoded (>= 285), H264 640x360 on the server".
fn detail(r: &InteropResult) -> String {
    let mut parts = Vec::new();
    if let Some(n) = r.counts.frames_published {
        parts.push(format!("{n} published"));
    }
    if let Some(n) = r.counts.decoded_frames {
        let min = r
            .decode_threshold
            .map(|t| format!(" (>= {t})"))
            .unwrap_or_default();
        parts.push(format!("{n} decoded by ffmpeg{min}"));
    }
    if let Some(v) = &r.server_view
        && v.polls_listing_stream > 0
    {
        let size = match (v.width, v.height) {
            (Some(w), Some(h)) => format!(" {w}x{h}"),
            _ => String::new(),
        };
        let codec = v.video_codec.as_deref().unwrap_or("no codec");
        parts.push(format!("server: {codec}{size}"));
    }
    parts.join(", ")
}

/// The progress line's entry: the shared [`Progress`] knows pass, fail and
/// skip; a recorded row shows as a skip whose reason says "recorded".
fn progress_entry(e: &InteropEntry) -> RowEntry {
    let outcome = match e.outcome {
        Verdict::Pass => Outcome::Pass,
        Verdict::Fail => Outcome::Fail,
        Verdict::Recorded | Verdict::Skip => Outcome::Skip,
    };
    RowEntry {
        row: e.row.clone(),
        title: e.row.clone(),
        negative: false,
        outcome,
        reason: e.reason.clone(),
        detail: e.detail.clone(),
        duration_ms: e.duration_ms,
        result: e.result.clone(),
    }
}
