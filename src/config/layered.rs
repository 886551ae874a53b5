//! Where each setting comes from, strongest first: the command line, the
//! environment (`CVMMAP_<FLAG>`: `--rtp-endpoint` is `CVMMAP_RTP_ENDPOINT`),
//! a `--config FILE.toml` (keys are the flags' names without the dashes,
//! `rtp-endpoint = "127.0.0.1:5004"` or `rtp_endpoint`), then the built-in
//! default. clap does the layering: every flag is given its environment
//! variable, and the file's values become the flags' defaults, so the one
//! parser checks all three the same way. [`Effective`] remembers which
//! layer gave each value, for `--print-config`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::ArgAction;
use clap::parser::ValueSource;

/// Flags every layered binary has (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LayerArgs {
    /// Read settings from this TOML file (keys are flag names: `codec =
    /// "h264"`, `rtp = true`); flags and CVMMAP_* variables override it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (TOML, each value's origin, secrets
    /// redacted), check it, and exit (0 valid, 2 invalid).
    #[arg(long)]
    pub print_config: bool,
}

/// The environment variable of the file path (`--config`).
const CONFIG_ENV: &str = "CVMMAP_CONFIG";

/// Ids clap owns, or that make no sense in a file or the environment.
const NOT_SETTINGS: &[&str] = &["help", "version", "config", "print_config"];

/// Settings shown as `***` by `--print-config`.
const SECRETS: &[&str] = &["nats_token", "nats_password"];

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("--config {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error(
        "--config {path}: unknown setting {key:?} (settings are the flags' names, e.g. rtp-endpoint)"
    )]
    UnknownKey { path: PathBuf, key: String },
    #[error("{}", super::one_line(.0))]
    Args(#[from] clap::Error),
}

/// Which layer a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env(String),
    File(PathBuf),
    Default,
    Unset,
}

/// One setting as it will run.
#[derive(Debug, Clone)]
pub struct Setting {
    pub key: String,
    pub values: Vec<String>,
    pub origin: Origin,
    pub multiple: bool,
}

/// Every setting of a binary, in its `--help` order.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    pub settings: Vec<Setting>,
}

/// `CVMMAP_` and the flag's long name in capitals (`--rtp-endpoint`:
/// `CVMMAP_RTP_ENDPOINT`).
pub fn env_name(long: &str) -> String {
    format!("CVMMAP_{}", key_of(long).to_ascii_uppercase())
}

/// A flag's name as a settings key: `rtp-endpoint` is `rtp_endpoint`.
fn key_of(long: &str) -> String {
    long.replace('-', "_")
}

fn is_setting(arg: &clap::Arg) -> bool {
    arg.get_long().is_some() && !arg.is_hide_set() && !NOT_SETTINGS.contains(&arg.get_id().as_str())
}

fn is_multiple(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// The command line `args` (program name first) parsed over the
/// environment and the `--config` file.
pub fn parse<P: clap::Parser>(args: Vec<OsString>) -> Result<(P, Effective), LayerError> {
    let file = config_path(&args);
    let mut cmd = P::command().mut_args(|a| {
        if is_setting(&a) && a.get_env().is_none() {
            // Leaked once at start-up: clap keeps &'static names without
            // its `string` feature, and there are a few dozen.
            let long = a.get_long().unwrap_or_default();
            let name: &'static str = Box::leak(env_name(long).into_boxed_str());
            a.env(name).hide_env_values(true)
        } else {
            a
        }
    });
    let mut from_file = BTreeSet::new();
    if let Some(path) = &file {
        for (id, values) in read_file(path, &cmd)? {
            let values: Vec<&'static str> = values
                .into_iter()
                .map(|v| &*Box::leak(v.into_boxed_str()))
                .collect();
            // A required flag the file gives is no longer required.
            cmd = cmd.mut_arg(&id, |a| a.required(false).default_values(values));
            from_file.insert(id);
        }
    }
    let matches = cmd.try_get_matches_from_mut(args)?;
    let parsed = P::from_arg_matches(&matches)?;
    let settings = cmd
        .get_arguments()
        .filter(|a| is_setting(a))
        .map(|a| {
            let id = a.get_id().as_str();
            let values: Vec<String> = matches
                .get_raw(id)
                .map(|vs| vs.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let origin = match matches.value_source(id) {
                Some(ValueSource::CommandLine) => Origin::Flag,
                Some(ValueSource::EnvVariable) => Origin::Env(
                    a.get_env()
                        .map(|e| e.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                Some(ValueSource::DefaultValue) if from_file.contains(id) => {
                    Origin::File(file.clone().unwrap_or_default())
                }
                Some(_) => Origin::Default,
                None => Origin::Unset,
            };
            Setting {
                key: key_of(a.get_long().unwrap_or(id)),
                values,
                origin,
                multiple: is_multiple(a),
            }
        })
        .collect();
    Ok((parsed, Effective { settings }))
}

/// `--config PATH`, `--config=PATH` or `$CVMMAP_CONFIG`, found before the
/// parse (the file's values must be in place when clap parses).
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// The file's settings as (clap id, values), each key checked against the
/// command's flags' long names.
fn read_file(path: &Path, cmd: &clap::Command) -> Result<Vec<(String, Vec<String>)>, LayerError> {
    let err = |reason: String| LayerError::File {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        // One line, with where it is: the parser's message may span lines.
        let at = e
            .span()
            .map(|r| format!(" (line {})", text[..r.start].lines().count().max(1)))
            .unwrap_or_default();
        let msg: Vec<&str> = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        err(format!("{}{at}", msg.join("; ")))
    })?;
    let mut out = Vec::with_capacity(table.len());
    for (key, value) in table {
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| is_setting(a) && a.get_long().map(key_of) == Some(key_of(&key)))
        else {
            return Err(LayerError::UnknownKey {
                path: path.to_owned(),
                key,
            });
        };
        let values = match value {
            toml::Value::Array(items) if is_multiple(arg) => items
                .into_iter()
                .map(|v| scalar(&key, v).map_err(err))
                .collect::<Result<Vec<_>, _>>()?,
            toml::Value::Array(_) => {
                return Err(err(format!("{key}: takes one value, not a list")));
            }
            v => vec![scalar(&key, v).map_err(err)?],
        };
        out.push((arg.get_id().as_str().to_owned(), values));
    }
    Ok(out)
}

fn scalar(key: &str, v: toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("{key}: a {} is not a flag value", other.type_str())),
    }
}

/// A secret setting, or the secret part of a URL: RTMP stream keys (the
/// last path segment) and passwords in `user:password@`.
fn redact(key: &str, value: &str) -> (String, bool) {
    if SECRETS.contains(&key) {
        return ("***".to_owned(), true);
    }
    let mut out = value.to_owned();
    let mut changed = false;
    if let Some((scheme, rest)) = value.split_once("://") {
        let (authority, path) = rest
            .split_once('/')
            .map_or((rest, None), |(a, p)| (a, Some(p)));
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                changed = true;
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{user}:***@{host}")
            }
            _ => authority.to_owned(),
        };
        let path = match path {
            Some(p) if scheme.starts_with("rtmp") => match p.split_once('/') {
                Some((app, stream)) if !stream.is_empty() => {
                    changed = true;
                    Some(format!("{app}/***"))
                }
                _ => Some(p.to_owned()),
            },
            other => other.map(str::to_owned),
        };
        if changed {
            out = match path {
                Some(p) => format!("{scheme}://{authority}/{p}"),
                None => format!("{scheme}://{authority}"),
            };
        }
    }
    (out, changed)
}

/// A value as TOML: numbers and booleans bare, everything else a string.
fn toml_value(v: &str) -> String {
    let bare = v == "true"
        || v == "false"
        || v.parse::<i64>().is_ok()
        || (v.parse::<f64>().is_ok_and(f64::is_finite) && v.contains('.'));
    if bare {
        v.to_owned()
    } else {
        toml::Value::String(v.to_owned()).to_string()
    }
}

impl Effective {
    /// The configuration as a TOML file that `--config` reads back (unset
    /// settings commented out), each line saying where its value came from.
    pub fn render(&self, program: &str) -> String {
        let mut out = format!(
            "# {program}: effective configuration (flag > environment CVMMAP_* > --config file > default)\n"
        );
        for s in &self.settings {
            let mut redacted = false;
            let values: Vec<String> = s
                .values
                .iter()
                .map(|v| {
                    let (v, r) = redact(&s.key, v);
                    redacted |= r;
                    toml_value(&v)
                })
                .collect();
            let origin = match &s.origin {
                Origin::Flag => "flag".to_owned(),
                Origin::Env(name) => format!("env {name}"),
                Origin::File(p) => format!("file {}", p.display()),
                Origin::Default => "default".to_owned(),
                Origin::Unset => {
                    out.push_str(&format!("# {} (unset)\n", s.key));
                    continue;
                }
            };
            let value = if s.multiple {
                format!("[{}]", values.join(", "))
            } else {
                values.join(", ")
            };
            let note = if redacted { ", redacted" } else { "" };
            out.push_str(&format!("{} = {value}  # {origin}{note}\n", s.key));
        }
        out
    }

    /// The origin of one setting (tests, logs).
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .map(|s| &s.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_stream_key_and_password() {
        assert_eq!(
            redact("rtmp_url", "rtmp://h:1935/live/secretkey").0,
            "rtmp://h:1935/live/***"
        );
        assert_eq!(
            redact("nats_url", "nats://u:pw@h:4222").0,
            "nats://u:***@h:4222"
        );
        assert_eq!(
            redact("nats_url", "nats://h:4222"),
            ("nats://h:4222".into(), false)
        );
        assert_eq!(redact("nats_token", "t0k").0, "***");
        assert_eq!(redact("rtmp_url", "rtmp://h/live").0, "rtmp://h/live");
    }

    #[test]
    fn values_render_as_toml() {
        assert_eq!(toml_value("30"), "30");
        assert_eq!(toml_value("true"), "true");
        assert_eq!(toml_value("29.97"), "29.97");
        assert_eq!(toml_value("h264"), "\"h264\"");
        // Quotes inside: whatever TOML form, it reads back as the value.
        let t: toml::Table = format!("k = {}", toml_value("a\"b'c")).parse().unwrap();
        assert_eq!(t["k"].as_str(), Some("a\"b'c"));
    }
}
