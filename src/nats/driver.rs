//! The NATS event loop: connection events, producer subscriptions, our
//! periodic status and the `cvmmap_streamer` micro service.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::service::ServiceExt;
use async_nats::{Client, Event, Subscriber, connection::State};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::producer::{self, StatusAction};
use super::status::{Rates, SourceInfo, StreamState, StreamerStatus};
use super::subjects::{SERVICE_NAME, Subjects};
use super::{NatsConfig, NatsContext, NatsSummary, connect};
use crate::telemetry::incr;

/// Bound on the goodbye (last status and flush) at exit.
const FAREWELL: Duration = Duration::from_secs(1);

struct Driver {
    cfg: NatsConfig,
    ctx: NatsContext,
    subjects: Subjects,
    client: Client,
    rates: Rates,
    source_info: Arc<Mutex<Option<SourceInfo>>>,
    connected_ever: bool,
    /// An outage has been reported; stay quiet until connected again.
    outage_logged: bool,
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Driver {
    fn status(&self, stopping: bool) -> StreamerStatus {
        let s = self.ctx.counters.snapshot();
        let p = &self.ctx.producer;
        StreamerStatus {
            schema: super::status::STATUS_SCHEMA,
            key: self.subjects.key().to_owned(),
            instance: self.cfg.instance.clone(),
            state: StreamState::of(p.state(), p.since_last_frame_ms(), stopping),
            producer: p.state(),
            codec: self.ctx.codec.to_string(),
            encoder: self
                .ctx
                .encoder
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            fps: self.rates.fps,
            bitrate_kbps: self.rates.bitrate_kbps,
            frames_ingested: s.ingest.frames_ingested,
            frames_encoded: s.encode.frames_encoded + s.encode.frames_passthrough,
            frames_dropped: s.ingest.frames_dropped_queue,
            frames_torn: s.ingest.frames_torn,
            reconnects_rtmp: s.rtmp.rtmp_reconnects,
            reconnects_nats: s.nats.nats_connects.saturating_sub(1),
            source_info: self
                .source_info
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            uptime_ms: p.uptime_ms(),
            timestamp_ns: unix_ns(),
            stats: s,
        }
    }

    fn status_json(&self, stopping: bool) -> Vec<u8> {
        serde_json::to_vec(&self.status(stopping)).expect("status serialises")
    }

    fn connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Publishes our status; skipped while disconnected so that a long outage
    /// cannot fill the client's send queue.
    async fn publish_status(&mut self, stopping: bool) {
        if !stopping {
            self.rates
                .sample(self.ctx.producer.uptime_ms(), &self.ctx.counters.snapshot());
        }
        if !self.connected() {
            return;
        }
        let body = self.status_json(stopping);
        if let Err(e) = self
            .client
            .publish(self.subjects.streamer_status(), body.into())
            .await
        {
            warn!(error = %e, "cannot publish status");
        }
    }

    fn query_source_info(&self) {
        tokio::spawn(producer::query_source_info(
            self.client.clone(),
            self.subjects.clone(),
            self.cfg.request_timeout,
            self.source_info.clone(),
        ));
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Connected => {
                incr(&self.ctx.counters.nats.nats_connects);
                if self.connected_ever {
                    info!(url = %self.cfg.url_display, "NATS reconnected: subscriptions resume");
                } else {
                    info!(url = %self.cfg.url_display, "NATS connected");
                }
                self.ctx.events.emit(
                    "nats_connected",
                    serde_json::json!({"reconnect": self.connected_ever}),
                );
                self.connected_ever = true;
                self.outage_logged = false;
                self.query_source_info();
            }
            Event::Disconnected => {
                incr(&self.ctx.counters.nats.nats_disconnects);
                self.ctx
                    .events
                    .emit("nats_disconnected", serde_json::Value::Null);
                warn!(url = %self.cfg.url_display, "NATS connection lost: streaming continues; reconnecting in the background");
                self.outage_logged = true;
            }
            Event::ClientError(e) if !self.outage_logged => {
                warn!(url = %self.cfg.url_display, error = %e, "NATS unreachable: streaming continues without producer status; retrying in the background");
                self.outage_logged = true;
            }
            Event::ServerError(e) => warn!(error = %e, "NATS server error"),
            Event::SlowConsumer(sid) => warn!(sid, "NATS slow consumer: messages dropped"),
            other => tracing::debug!(event = %other, "NATS event"),
        }
    }
}

async fn next_msg(sub: &mut Option<Subscriber>) -> Option<async_nats::Message> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

async fn next_req(
    ep: &mut Option<async_nats::service::endpoint::Endpoint>,
) -> Option<async_nats::service::Request> {
    match ep {
        Some(e) => e.next().await,
        None => std::future::pending().await,
    }
}

/// The producer's subjects and our service endpoints; each may be absent
/// (a failed subscribe or service start is logged, never fatal).
struct Inbox {
    status: Option<Subscriber>,
    body: Option<Subscriber>,
    service: Option<async_nats::service::Service>,
    stats_ep: Option<async_nats::service::endpoint::Endpoint>,
    keyframe_ep: Option<async_nats::service::endpoint::Endpoint>,
}

impl Inbox {
    async fn open(client: &Client, subjects: &Subjects, body: bool) -> Self {
        let status = client.subscribe(subjects.producer_status()).await.ok();
        let body = if body {
            client.subscribe(subjects.body()).await.ok()
        } else {
            None
        };
        let service = match client
            .service_builder()
            .description("cvmmap-streamer: cv-mmap to RTP/RTMP (stats, keyframe)")
            .start(SERVICE_NAME, env!("CARGO_PKG_VERSION"))
            .await
        {
            Ok(svc) => Some(svc),
            Err(e) => {
                warn!(error = %e, "NATS micro service not started");
                None
            }
        };
        let (mut stats_ep, mut keyframe_ep) = (None, None);
        if let Some(svc) = &service {
            let group = svc.group(subjects.service_group());
            stats_ep = group.endpoint("stats").await.ok();
            keyframe_ep = group.endpoint("keyframe").await.ok();
        }
        Self {
            status,
            body,
            service,
            stats_ep,
            keyframe_ep,
        }
    }
}

/// Starts the client (connection retried in the background); `Err` is the
/// reason NATS takes no part.
async fn start_client(
    cfg: &NatsConfig,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Client, String> {
    let opts = connect::options(cfg, events).await.map_err(|e| {
        warn!(error = %e, "NATS credentials unreadable: continuing without NATS");
        format!("credentials: {e}")
    })?;
    opts.connect(cfg.servers.clone()).await.map_err(|e| {
        warn!(error = %e, "NATS client cannot start: continuing without NATS");
        e.to_string()
    })
}

impl Driver {
    /// The `keyframe` endpoint: asks for a keyframe and answers with counts.
    async fn on_keyframe_request(&self, req: async_nats::service::Request) {
        self.ctx.keyframes.request();
        incr(&self.ctx.counters.nats.keyframe_requests);
        debug!("keyframe requested over NATS");
        let s = self.ctx.counters.snapshot();
        let body = serde_json::json!({
            "ok": true,
            "frames_encoded": s.encode.frames_encoded,
            "keyframes": s.encode.keyframes,
        });
        let _ = req.respond(Ok(body.to_string().into())).await;
    }

    /// Goodbye: a last status saying "stopped", flushed within a bound.
    async fn farewell(&mut self, service: Option<async_nats::service::Service>) {
        let _ = tokio::time::timeout(FAREWELL, async {
            self.publish_status(true).await;
            let _ = self.client.flush().await;
        })
        .await;
        if let Some(svc) = service {
            let _ = tokio::time::timeout(FAREWELL, svc.stop()).await;
        }
    }
}

/// Runs until `stop` fires; returns what the summary reports.
pub async fn run(
    cfg: NatsConfig,
    ctx: NatsContext,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> NatsSummary {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut summary = NatsSummary {
        enabled: true,
        url: Some(cfg.url_display.clone()),
        ..NatsSummary::default()
    };
    let client = match start_client(&cfg, events_tx).await {
        Ok(c) => c,
        Err(reason) => {
            summary.reason = Some(reason);
            return summary;
        }
    };
    let subjects = Subjects::new(&cfg.key);
    let wants_body = cfg.body_sei || ctx.body_sink.is_some();
    let mut inbox = Inbox::open(&client, &subjects, wants_body).await;
    let mut d = Driver {
        cfg,
        ctx,
        subjects,
        client,
        rates: Rates::default(),
        source_info: Arc::new(Mutex::new(None)),
        connected_ever: false,
        outage_logged: false,
    };
    let period = if d.cfg.status_interval.is_zero() {
        Duration::from_secs(3600 * 24 * 365)
    } else {
        d.cfg.status_interval
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut status_invalid_logged, mut body_error) = (false, None);
    let label = d.cfg.instance.clone();

    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(ev) = events.recv() => d.on_event(ev),
            Some(msg) = next_msg(&mut inbox.status) => {
                if producer::on_status(&msg.payload, &d.ctx, &mut status_invalid_logged)
                    == StatusAction::QuerySourceInfo
                {
                    d.query_source_info();
                }
            }
            Some(msg) = next_msg(&mut inbox.body) => {
                producer::on_body(&msg.payload, &d.ctx, label.as_deref(), &mut body_error);
            }
            Some(req) = next_req(&mut inbox.stats_ep) => {
                let body = d.status_json(false);
                let _ = req.respond(Ok(body.into())).await;
            }
            Some(req) = next_req(&mut inbox.keyframe_ep) => d.on_keyframe_request(req).await,
            _ = tick.tick() => d.publish_status(false).await,
        }
    }

    d.farewell(inbox.service.take()).await;
    summary.connected = d.connected_ever;
    summary.source_info = d
        .source_info
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if !d.connected_ever {
        summary.reason = Some("server never reachable".into());
    }
    summary
}
