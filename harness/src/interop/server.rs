//! The RTMP servers of `harness interop`: started by the harness from a
//! binary with a generated configuration (nginx always, when installed;
//! SRS, ZLMediaKit and MediaMTX with `--srs-bin` etc.), reached at a
//! running one (`--server-url`), or absent (their rows are skipped).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::api::Api;
use super::configs;
use super::model::ServerInfo;
use crate::model::ProcessRecord;
use crate::ports;
use crate::supervisor::Proc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Srs,
    Zlm,
    Mediamtx,
}

pub const ALL: [Kind; 4] = [Kind::Nginx, Kind::Srs, Kind::Zlm, Kind::Mediamtx];

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Srs => "srs",
            Kind::Zlm => "zlm",
            Kind::Mediamtx => "mediamtx",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx-rtmp",
            Kind::Srs => "SRS",
            Kind::Zlm => "ZLMediaKit",
            Kind::Mediamtx => "MediaMTX",
        }
    }

    /// The flag that gives the harness this server's binary.
    pub fn bin_flag(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx on PATH",
            Kind::Srs => "--srs-bin",
            Kind::Zlm => "--zlm-bin",
            Kind::Mediamtx => "--mediamtx-bin",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A running server given on the command line.
#[derive(Debug, Clone)]
pub struct External {
    pub kind: Kind,
    /// `rtmp://HOST:PORT/APP`; the row's stream name is appended.
    pub rtmp_url: String,
    pub api_url: String,
    pub api_secret: Option<String>,
}

/// A server the rows can publish to.
pub struct Server {
    pub info: ServerInfo,
    /// `rtmp://host:port/app`, without the stream name.
    pub rtmp_base: String,
    pub app: String,
    pub api: Api,
    proc: Option<Proc>,
}

/// Why a server's rows cannot run: skipped (not given, not installed) or
/// failed (given but would not start).
pub enum Unavailable {
    Skip(String, Box<ServerInfo>),
    Fail(String, Box<ServerInfo>),
}

pub fn info(kind: Kind, how: &'static str) -> ServerInfo {
    ServerInfo {
        kind: kind.as_str(),
        how,
        program: None,
        version: None,
        rtmp_url: None,
        api_url: None,
        config: None,
        note: None,
    }
}

/// The first `name` on PATH, or in /usr/sbin (Debian's nginx).
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The first non-empty line `program args` prints (stdout or stderr).
pub fn version_line(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    all.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// The rtmp base of `url` split into (base, app): `rtmp://h:p/live`.
fn split_app(url: &str) -> Option<(String, String)> {
    let rest = url.trim_end_matches('/').strip_prefix("rtmp://")?;
    let (_, app) = rest.split_once('/')?;
    (!app.is_empty() && !app.contains('/')).then(|| (format!("rtmp://{rest}"), app.to_owned()))
}

/// Reaches `kind`: the external server when `--server-kind` names it, else
/// a started one from its binary (nginx: the installed one), else why not.
/// `run_dir` is the run folder; `dir` the server's own folder inside it.
pub fn open(
    kind: Kind,
    bin: Option<&Path>,
    external: Option<&External>,
    run_dir: &Path,
    dir: &Path,
) -> Result<Server, Unavailable> {
    if let Some(ext) = external.filter(|e| e.kind == kind) {
        return reach_external(ext);
    }
    let program = match (kind, bin) {
        (_, Some(b)) => b.to_path_buf(),
        (Kind::Nginx, None) => on_path("nginx").ok_or_else(|| {
            Unavailable::Skip(
                "nginx is not installed (apt-get install nginx libnginx-mod-rtmp)".into(),
                Box::new(info(kind, "none")),
            )
        })?,
        (_, None) => {
            return Err(Unavailable::Skip(
                format!("no {} or --server-url given", kind.bin_flag()),
                Box::new(info(kind, "none")),
            ));
        }
    };
    start(kind, &program, run_dir, dir)
}

fn reach_external(ext: &External) -> Result<Server, Unavailable> {
    let mut i = info(ext.kind, "external");
    i.rtmp_url = Some(ext.rtmp_url.clone());
    i.api_url = Some(ext.api_url.clone());
    let Some((rtmp_base, app)) = split_app(&ext.rtmp_url) else {
        return Err(Unavailable::Fail(
            format!(
                "--server-url {:?}: expected rtmp://HOST:PORT/APP",
                ext.rtmp_url
            ),
            Box::new(i),
        ));
    };
    let api = Api {
        kind: ext.kind,
        base: ext.api_url.trim_end_matches('/').to_owned(),
        secret: ext.api_secret.clone(),
    };
    i.version = api_version(&api);
    i.note = Some(
        "a running server given with --server-url; not started or stopped by the harness".into(),
    );
    Ok(Server {
        info: i,
        rtmp_base,
        app,
        api,
        proc: None,
    })
}

/// Two distinct free loopback TCP ports.
fn two_ports() -> std::io::Result<(u16, u16)> {
    let a = ports::free_tcp_port()?;
    for _ in 0..16 {
        let b = ports::free_tcp_port()?;
        if b != a {
            return Ok((a, b));
        }
    }
    Err(std::io::Error::other("no second free TCP port"))
}

/// How long a server gets to listen on both ports.
const READY: Duration = Duration::from_secs(20);

fn start(kind: Kind, program: &Path, run_dir: &Path, dir: &Path) -> Result<Server, Unavailable> {
    let mut i = info(kind, "started");
    i.program = Some(program.display().to_string());
    let fail = |why: String, i: &ServerInfo| Unavailable::Fail(why, Box::new(i.clone()));
    let (rtmp, http) = two_ports().map_err(|e| fail(format!("no free TCP port: {e}"), &i))?;
    let secret = format!("cvmmap{}", crate::clock::short_random());
    let module = Path::new(configs::NGINX_RTMP_MODULE);
    let (file, text, args): (&str, String, Vec<String>) = match kind {
        Kind::Nginx => {
            if !module.is_file() {
                return Err(Unavailable::Skip(
                    format!(
                        "{} is missing (apt-get install libnginx-mod-rtmp)",
                        module.display()
                    ),
                    Box::new(i),
                ));
            }
            let d = dir.display().to_string();
            let conf = format!("{d}/nginx.conf");
            let err = format!("{d}/error.log");
            let text = configs::nginx(dir, module, rtmp, http);
            (
                "nginx.conf",
                text,
                vec!["-p".into(), d, "-c".into(), conf, "-e".into(), err],
            )
        }
        Kind::Srs => {
            let conf = dir.join("srs.conf").display().to_string();
            (
                "srs.conf",
                configs::srs(dir, rtmp, http),
                vec!["-c".into(), conf],
            )
        }
        Kind::Zlm => {
            let conf = dir.join("config.ini").display().to_string();
            let text = configs::zlm(dir, rtmp, http, &secret);
            ("config.ini", text, vec!["-c".into(), conf])
        }
        Kind::Mediamtx => {
            let conf = dir.join("mediamtx.yml").display().to_string();
            ("mediamtx.yml", configs::mediamtx(rtmp, http), vec![conf])
        }
    };
    let path = dir.join(file);
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display()), &i))?;
    if kind == Kind::Nginx {
        // nginx creates its temp folders but not their parent.
        let _ = std::fs::create_dir_all(dir.join("temp"));
    }
    std::fs::write(&path, text).map_err(|e| fail(format!("{}: {e}", path.display()), &i))?;
    i.config = path
        .strip_prefix(run_dir)
        .ok()
        .map(|p| p.display().to_string());
    i.rtmp_url = Some(format!("rtmp://127.0.0.1:{rtmp}/live"));
    let api_base = format!("http://127.0.0.1:{http}");
    i.api_url = Some(api_base.clone());
    i.version = match kind {
        Kind::Nginx => version_line(program, &["-v"]),
        Kind::Mediamtx => version_line(program, &["--version"]),
        _ => None,
    };
    let mut proc =
        Proc::spawn(dir, kind.as_str(), program, args).map_err(|e| fail(e.to_string(), &i))?;
    // Both ports listening, or the server gone, or the bound reached.
    let until = Instant::now() + READY;
    let step = Duration::from_millis(100);
    let mut both = false;
    while !both && proc.poll().is_none() && Instant::now() < until {
        both = ports::wait_tcp_listening(rtmp, step) && ports::wait_tcp_listening(http, step);
    }
    if !both || proc.poll().is_some() {
        let last = proc.last_stderr_line().unwrap_or_default();
        let why = match proc.poll() {
            Some(e) => format!(
                "{} ended ({}) before listening on 127.0.0.1:{rtmp} and :{http}: {last}",
                kind.title(),
                super::player::exit_text(Some(e)),
            ),
            None => format!(
                "{} did not listen on 127.0.0.1:{rtmp} and :{http} within {} s: {last}",
                kind.title(),
                READY.as_secs(),
            ),
        };
        proc.stop("did not become ready");
        return Err(fail(why, &i));
    }
    tracing::info!(server = kind.as_str(), rtmp, http, "server ready");
    let api = Api {
        kind,
        base: api_base,
        secret: (kind == Kind::Zlm).then_some(secret),
    };
    match kind {
        // The module's own version is in /stat (Debian's 1.2.2 reports 1.1.4).
        Kind::Nginx => {
            let module = super::api::get(&api.base, "/stat")
                .ok()
                .and_then(|x| super::api::tag(&x, "nginx_rtmp_version").map(str::to_owned));
            if let (Some(v), Some(m)) = (i.version.as_mut(), module) {
                v.push_str(&format!(", nginx-rtmp {m}"));
            }
        }
        _ if i.version.is_none() => i.version = api_version(&api),
        _ => {}
    }
    Ok(Server {
        info: i,
        rtmp_base: format!("rtmp://127.0.0.1:{rtmp}/live"),
        app: "live".into(),
        api,
        proc: Some(proc),
    })
}

/// The version the server's API reports (SRS, ZLMediaKit, MediaMTX).
fn api_version(api: &Api) -> Option<String> {
    let path = match api.kind {
        Kind::Nginx => return None,
        Kind::Srs => "/api/v1/versions".to_owned(),
        Kind::Zlm => format!(
            "/index/api/version?secret={}",
            api.secret.as_deref().unwrap_or_default()
        ),
        Kind::Mediamtx => "/v3/info".to_owned(),
    };
    let body = super::api::get(&api.base, &path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let d = v.get("data").unwrap_or(&v);
    let s = |k: &str| d.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    match api.kind {
        Kind::Srs => s("version").or_else(|| {
            let n = |k: &str| d.get(k).and_then(|x| x.as_u64());
            Some(format!(
                "{}.{}.{}",
                n("major")?,
                n("minor")?,
                n("revision")?
            ))
        }),
        Kind::Zlm => {
            s("branchName").map(|b| format!("{b} {}", s("commitHash").unwrap_or_default()))
        }
        _ => s("version"),
    }
}

impl Server {
    /// The row's publish (and play) URL.
    pub fn url(&self, stream: &str) -> String {
        format!("{}/{stream}", self.rtmp_base)
    }

    /// Stops a server the harness started; its record for server.json.
    pub fn close(&mut self) -> Option<ProcessRecord> {
        let p = self.proc.as_mut()?;
        p.stop("run finished");
        Some(p.record())
    }

    /// Whether a started server still runs (an external one is assumed to).
    pub fn alive(&mut self) -> bool {
        self.proc.as_mut().is_none_or(|p| p.poll().is_none())
    }

    /// Its last log line, for a reason.
    pub fn last_log_line(&self) -> Option<String> {
        self.proc.as_ref().and_then(Proc::last_stderr_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_application_url() {
        assert_eq!(
            split_app("rtmp://127.0.0.1:1935/live/"),
            Some(("rtmp://127.0.0.1:1935/live".into(), "live".into()))
        );
        assert_eq!(split_app("rtmp://h/live/x"), None);
        assert_eq!(split_app("http://h/live"), None);
        assert_eq!(Kind::parse("zlm"), Some(Kind::Zlm));
    }
}
