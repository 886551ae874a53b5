//! The producer side of contract §4: status events, body messages and the
//! `source.info` request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message as _;
use tracing::{debug, info, warn};

use super::NatsContext;
use super::proto::{
    GetSourceInfoRequest, GetSourceInfoResponse, ModuleStatusCode, ModuleStatusEvent,
};
use super::status::SourceInfo;
use super::subjects::Subjects;
use crate::contract::body::BodyHeader;
use crate::signals::ProducerState;
use crate::telemetry::incr;

/// What the status handler asks the driver to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusAction {
    None,
    /// The producer (re)attached: ask for its source info again.
    QuerySourceInfo,
}

/// Applies one `cvmmap.<key>.status` message.
pub fn on_status(payload: &[u8], ctx: &NatsContext, logged_invalid: &mut bool) -> StatusAction {
    let ev = match ModuleStatusEvent::decode(payload) {
        Ok(ev) => ev,
        Err(e) => {
            if !*logged_invalid {
                warn!(error = %e, len = payload.len(), "producer status is not a ModuleStatusEvent: ignored");
                *logged_invalid = true;
            }
            return StatusAction::None;
        }
    };
    incr(&ctx.counters.nats.nats_status_events);
    match ModuleStatusCode::try_from(ev.status) {
        Ok(ModuleStatusCode::Online) => {
            incr(&ctx.counters.nats.producer_online);
            ctx.producer.set_state(ProducerState::Online);
            info!(instance = %ev.instance, "producer ONLINE");
            StatusAction::QuerySourceInfo
        }
        Ok(ModuleStatusCode::Offline) => {
            incr(&ctx.counters.nats.producer_offline);
            ctx.producer.set_state(ProducerState::Offline);
            info!(instance = %ev.instance, "producer OFFLINE: idle until it returns; outputs stay connected");
            StatusAction::None
        }
        Ok(ModuleStatusCode::StreamReset) => {
            incr(&ctx.counters.nats.producer_stream_resets);
            ctx.producer.signal_reset();
            info!(instance = %ev.instance, "producer STREAM_RESET: new timeline, keyframe at the next frame");
            StatusAction::None
        }
        Ok(ModuleStatusCode::Unknown) | Err(_) => {
            debug!(
                status = ev.status,
                "producer status without meaning: ignored"
            );
            StatusAction::None
        }
    }
}

/// Validates one `cvmmap.<key>.body` message and queues it for its frame.
pub fn on_body(
    payload: &[u8],
    ctx: &NatsContext,
    label: Option<&str>,
    last_error: &mut Option<String>,
) {
    if ctx.body.is_none() && ctx.body_sink.is_none() {
        return;
    }
    match BodyHeader::parse(payload, label) {
        Ok(header) => {
            incr(&ctx.counters.nats.body_messages);
            if let Some(sink) = &ctx.body_sink {
                sink(header.timestamp_ns, payload);
            }
            if let Some(store) = &ctx.body {
                store.push(&header, payload.to_vec(), &ctx.counters.nats);
            }
        }
        Err(e) => {
            incr(&ctx.counters.nats.body_invalid);
            let text = e.to_string();
            if last_error.as_deref() != Some(text.as_str()) {
                warn!(error = %text, "body-tracking message rejected");
                *last_error = Some(text);
            }
        }
    }
}

/// Asks `source.info` on the new subject, then the legacy one; stores the
/// first answer. Silence is fine: producers without control just do not answer.
pub async fn query_source_info(
    client: async_nats::Client,
    subjects: Subjects,
    timeout: Duration,
    into: Arc<Mutex<Option<SourceInfo>>>,
) {
    let request = GetSourceInfoRequest {}.encode_to_vec();
    for subject in subjects.source_info() {
        let reply = tokio::time::timeout(
            timeout,
            client.request(subject.clone(), request.clone().into()),
        )
        .await;
        match reply {
            Ok(Ok(msg)) => match GetSourceInfoResponse::decode(&msg.payload[..]) {
                Ok(r) => {
                    let info = SourceInfo::from_response(&subject, &r);
                    info!(
                        subject = %subject,
                        kind = %info.source_kind,
                        timestamp_domain = %info.timestamp_domain,
                        frame_count = info.current_frame_count,
                        flags = ?info.flag_names,
                        "producer source info"
                    );
                    *into.lock().unwrap_or_else(|p| p.into_inner()) = Some(info);
                    return;
                }
                Err(e) => {
                    warn!(subject = %subject, error = %e, "source.info answer does not decode")
                }
            },
            Ok(Err(e)) => debug!(subject = %subject, error = %e, "no source.info answer"),
            Err(_) => debug!(subject = %subject, "source.info timed out"),
        }
    }
    info!("no producer answered source.info: continuing without it");
}
