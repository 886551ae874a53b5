//! NATS flags (`--nats-*`, `--no-nats`, `--body-sei`) and their validation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::ConfigError;
use crate::nats::{NatsAuth, NatsConfig, NatsTls};

#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// NATS server(s) for producer status, body tracking and control, and for
    /// our own status and service; several as a comma-separated list. When
    /// unreachable, streaming goes on and NATS is retried in the background.
    #[arg(
        long,
        value_name = "URL",
        default_value = "nats://localhost:4222",
        env = "CVMMAP_NATS_URL"
    )]
    pub nats_url: String,
    /// Do not use NATS at all (no producer status, body tracking or control).
    #[arg(long)]
    pub no_nats: bool,
    /// Authenticate with this token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CVMMAP_NATS_TOKEN",
        hide_env_values = true
    )]
    pub nats_token: Option<String>,
    /// Authenticate as this user (with --nats-password).
    #[arg(long, value_name = "USER", env = "CVMMAP_NATS_USER")]
    pub nats_user: Option<String>,
    /// Password of --nats-user.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "CVMMAP_NATS_PASSWORD",
        hide_env_values = true
    )]
    pub nats_password: Option<String>,
    /// Authenticate with a credentials file (JWT and NKey seed).
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// Require TLS.
    #[arg(long)]
    pub nats_tls: bool,
    /// Trust this CA certificate (PEM) for the server.
    #[arg(long, value_name = "FILE")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with --nats-tls-key.
    #[arg(long, value_name = "FILE")]
    pub nats_tls_cert: Option<PathBuf>,
    /// Client key (PEM) of --nats-tls-cert.
    #[arg(long, value_name = "FILE")]
    pub nats_tls_key: Option<PathBuf>,
    /// Subject key of the source (default: derived from the source, contract §1).
    #[arg(long, value_name = "KEY")]
    pub nats_key: Option<String>,
    /// Period of our status on cvmmap_streamer.<key>.status (0 = none).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub nats_status_interval_ms: u64,
    /// How long to wait for the producer's source.info answer.
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub nats_request_timeout_ms: u64,
    /// Carry body tracking (cvmmap.<key>.body) in the stream as SEI units
    /// with the frame they belong to (docs/body-sei.md).
    #[arg(long)]
    pub body_sei: bool,
}

fn readable(flag: &'static str, path: &Path) -> Result<(), ConfigError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| ConfigError::new(flag, format!("cannot read {}: {e}", path.display())))
}

/// `nats://user:pass@host` shown without the credentials.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl NatsArgs {
    /// `None` with `--no-nats`. `key`/`instance` come from the source.
    pub fn into_config(
        &self,
        key: String,
        instance: Option<String>,
    ) -> Result<Option<NatsConfig>, ConfigError> {
        if self.no_nats {
            if self.body_sei {
                return Err(ConfigError::new(
                    "--body-sei",
                    "needs NATS (drop --no-nats)",
                ));
            }
            return Ok(None);
        }
        let mut servers = Vec::new();
        for url in self
            .nats_url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            servers.push(url.parse::<async_nats::ServerAddr>().map_err(|e| {
                ConfigError::new(
                    "--nats-url",
                    format!("{:?} is not a NATS URL: {e}", without_credentials(url)),
                )
            })?);
        }
        if servers.is_empty() {
            return Err(ConfigError::new("--nats-url", "no server given"));
        }
        let auth = match (
            &self.nats_token,
            &self.nats_user,
            &self.nats_password,
            &self.nats_creds,
        ) {
            (None, None, None, None) => NatsAuth::None,
            (Some(t), None, None, None) => NatsAuth::Token(t.clone()),
            (None, Some(u), Some(p), None) => NatsAuth::UserPassword {
                user: u.clone(),
                password: p.clone(),
            },
            (None, Some(_), None, None) => {
                return Err(ConfigError::new(
                    "--nats-password",
                    "required with --nats-user",
                ));
            }
            (None, None, Some(_), None) => {
                return Err(ConfigError::new(
                    "--nats-user",
                    "required with --nats-password",
                ));
            }
            (None, None, None, Some(path)) => {
                readable("--nats-creds", path)?;
                NatsAuth::Credentials(path.clone())
            }
            _ => {
                return Err(ConfigError::new(
                    "--nats-token",
                    "choose one of --nats-token, --nats-user/--nats-password, --nats-creds",
                ));
            }
        };
        if let Some(ca) = &self.nats_tls_ca {
            readable("--nats-tls-ca", ca)?;
        }
        let client = match (&self.nats_tls_cert, &self.nats_tls_key) {
            (Some(c), Some(k)) => {
                readable("--nats-tls-cert", c)?;
                readable("--nats-tls-key", k)?;
                Some((c.clone(), k.clone()))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "--nats-tls-key",
                    "required with --nats-tls-cert",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "--nats-tls-cert",
                    "required with --nats-tls-key",
                ));
            }
        };
        let key = self.nats_key.clone().unwrap_or(key).replace('.', "_");
        if key.is_empty() || key.contains([' ', '*', '>']) {
            return Err(ConfigError::new(
                "--nats-key",
                format!("{key:?} is not a subject token"),
            ));
        }
        Ok(Some(NatsConfig {
            servers,
            url_display: without_credentials(&self.nats_url),
            auth,
            tls: NatsTls {
                required: self.nats_tls,
                ca: self.nats_tls_ca.clone(),
                client,
            },
            key,
            instance,
            status_interval: Duration::from_millis(self.nats_status_interval_ms),
            request_timeout: Duration::from_millis(self.nats_request_timeout_ms),
            body_sei: self.body_sei,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        n: NatsArgs,
    }

    fn cfg(args: &[&str]) -> Result<Option<NatsConfig>, String> {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        t.n.into_config("ns_cam.0".into(), Some("cam.0".into()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_key() {
        let c = cfg(&[]).unwrap().unwrap();
        assert_eq!(c.key, "ns_cam_0");
        assert_eq!(c.auth, NatsAuth::None);
        assert_eq!(c.servers.len(), 1);
        assert!(cfg(&["--no-nats"]).unwrap().is_none());
        let c = cfg(&[
            "--nats-url",
            "nats://a:4222, nats://b:4223",
            "--nats-key",
            "k",
        ])
        .unwrap()
        .unwrap();
        assert_eq!((c.servers.len(), c.key.as_str()), (2, "k"));
    }

    #[test]
    fn bad_combinations_name_the_flag() {
        assert!(
            cfg(&["--nats-user", "u"])
                .unwrap_err()
                .contains("--nats-password")
        );
        assert!(
            cfg(&["--nats-token", "t", "--nats-user", "u"])
                .unwrap_err()
                .contains("--nats-token")
        );
        assert!(
            cfg(&["--nats-creds", "/nonexistent/x.creds"])
                .unwrap_err()
                .contains("--nats-creds")
        );
        assert!(
            cfg(&["--nats-tls-cert", "/etc/hostname"])
                .unwrap_err()
                .contains("--nats-tls-key")
        );
        assert!(
            cfg(&["--nats-url", "http://x:1"])
                .unwrap_err()
                .contains("--nats-url")
        );
        assert!(
            cfg(&["--no-nats", "--body-sei"])
                .unwrap_err()
                .contains("--body-sei")
        );
    }

    #[test]
    fn credentials_never_shown() {
        assert_eq!(
            without_credentials("nats://u:secret@h:4222"),
            "nats://***@h:4222"
        );
        let c = cfg(&["--nats-url", "nats://u:secret@h:4222"])
            .unwrap()
            .unwrap();
        assert!(!c.url_display.contains("secret"));
        assert!(!format!("{:?}", NatsAuth::Token("secret".into())).contains("secret"));
    }
}
