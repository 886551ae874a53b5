//! A real `nats-server` on a free loopback port (killed on drop, restartable
//! on the same port) and a small blocking test client over async-nats.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::{Scratch, free_tcp_port, wait_tcp_listening};

/// The Debian package's server binary.
pub fn nats_server_bin() -> PathBuf {
    for p in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "nats-server is not installed (apt-get install nats-server; scripts/install-deps.sh does)"
    )
}

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
    extra: Vec<String>,
}

impl NatsServer {
    pub fn start(s: &Scratch, extra: &[&str]) -> Self {
        Self::start_with(s, free_tcp_port(), extra)
    }

    /// On a chosen port (one a client was already told about).
    pub fn start_on(s: &Scratch, port: u16) -> Self {
        Self::start_with(s, port, &[])
    }

    fn start_with(s: &Scratch, port: u16, extra: &[&str]) -> Self {
        let mut server = Self {
            child: None,
            port,
            log: s.path("nats-server.log"),
            extra: extra.iter().map(|a| a.to_string()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(nats_server_bin())
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        assert!(
            wait_tcp_listening(self.port, Duration::from_secs(10)),
            "nats-server did not listen on {}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the server vanishes without a goodbye.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A blocking client for tests.
pub struct Client {
    rt: tokio::runtime::Runtime,
    pub client: async_nats::Client,
}

pub struct Sub<'a> {
    rt: &'a tokio::runtime::Runtime,
    sub: async_nats::Subscriber,
}

impl Sub<'_> {
    pub fn next(&mut self, timeout: Duration) -> Option<async_nats::Message> {
        self.rt.block_on(async {
            tokio::time::timeout(timeout, self.sub.next())
                .await
                .ok()
                .flatten()
        })
    }

    /// The first message whose payload satisfies `pred`, within `timeout`.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&[u8]) -> bool,
    ) -> Option<async_nats::Message> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(m) if pred(&m.payload) => return Some(m),
                Some(_) => {}
                None => return None,
            }
        }
        None
    }

    /// Like [`Sub::wait_for`] on JSON payloads.
    pub fn wait_json(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let m = self.wait_for(timeout, |p| {
            serde_json::from_slice(p).is_ok_and(|v: serde_json::Value| pred(&v))
        })?;
        serde_json::from_slice(&m.payload).ok()
    }
}

impl Client {
    pub fn connect(url: &str) -> Self {
        Self::connect_with(url, async_nats::ConnectOptions::new())
    }

    pub fn connect_token(url: &str, token: &str) -> Self {
        Self::connect_with(
            url,
            async_nats::ConnectOptions::with_token(token.to_owned()),
        )
    }

    fn connect_with(url: &str, opts: async_nats::ConnectOptions) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = rt
            .block_on(
                opts.retry_on_initial_connect()
                    .reconnect_delay_callback(|_| Duration::from_millis(100))
                    .connect(url),
            )
            .expect("test client connects");
        Self { rt, client }
    }

    pub fn subscribe(&self, subject: &str) -> Sub<'_> {
        let sub = self
            .rt
            .block_on(self.client.subscribe(subject.to_owned()))
            .unwrap();
        // The SUB must reach the server before anything is published to it.
        self.flush();
        Sub { rt: &self.rt, sub }
    }

    pub fn flush(&self) {
        let _ = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), self.client.flush()).await
        });
    }

    pub fn publish(&self, subject: &str, payload: Vec<u8>) {
        self.rt
            .block_on(self.client.publish(subject.to_owned(), payload.into()))
            .unwrap();
        self.flush();
    }

    /// One request; `None` on timeout or no responders.
    pub fn request(&self, subject: &str, payload: Vec<u8>, timeout: Duration) -> Option<Vec<u8>> {
        self.rt.block_on(async {
            tokio::time::timeout(
                timeout,
                self.client.request(subject.to_owned(), payload.into()),
            )
            .await
            .ok()?
            .ok()
            .map(|m| m.payload.to_vec())
        })
    }

    pub fn request_json(&self, subject: &str, timeout: Duration) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.request(subject, Vec::new(), timeout)?).ok()
    }

    /// Serves `subject` with `reply(request_payload)` until dropped.
    pub fn serve(&self, subject: &str, reply: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) {
        let mut sub = self
            .rt
            .block_on(self.client.subscribe(subject.to_owned()))
            .unwrap();
        let client = self.client.clone();
        self.rt.spawn(async move {
            while let Some(m) = sub.next().await {
                if let Some(to) = m.reply {
                    let _ = client.publish(to, reply(&m.payload).into()).await;
                }
            }
        });
        self.flush();
    }
}
