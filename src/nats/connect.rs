//! Client options: auth, TLS, and a reconnect policy suited to a sidecar
//! that must notice a restarted server quickly.

use std::time::Duration;

use async_nats::{ConnectOptions, Event};
use tokio::sync::mpsc::UnboundedSender;

use super::{NatsAuth, NatsConfig};

/// Reconnect delay: 200 ms per failed attempt, at most 2 s, so that a server
/// that comes back is used within about 2 s.
fn reconnect_delay(attempts: usize) -> Duration {
    Duration::from_millis(200 * attempts.clamp(1, 10) as u64)
}

/// Messages held per subscription (status, body, service requests).
pub const SUBSCRIPTION_CAPACITY: usize = 256;

/// Options for `cfg`; client events go to `events`.
pub async fn options(
    cfg: &NatsConfig,
    events: UnboundedSender<Event>,
) -> std::io::Result<ConnectOptions> {
    let mut opts = match &cfg.auth {
        NatsAuth::Credentials(path) => ConnectOptions::with_credentials_file(path).await?,
        NatsAuth::Token(t) => ConnectOptions::new().token(t.clone()),
        NatsAuth::UserPassword { user, password } => {
            ConnectOptions::new().user_and_password(user.clone(), password.clone())
        }
        NatsAuth::None => ConnectOptions::new(),
    };
    if cfg.tls.required {
        opts = opts.require_tls(true);
    }
    if let Some(ca) = &cfg.tls.ca {
        opts = opts.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &cfg.tls.client {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(opts
        .name(format!("cvmmap_streamer {}", cfg.key))
        // Connect in the background: the stream must not wait for NATS.
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay)
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(Duration::from_secs(5))
        .request_timeout(Some(cfg.request_timeout))
        // Messages a subscription may hold before the client drops them (the
        // default is 65536 per subscription): a flood on a subject we follow
        // must cost bounded memory; the newest status and body are what count.
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .event_callback(move |ev| {
            let events = events.clone();
            async move {
                let _ = events.send(ev);
            }
        }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reconnect_delay_is_bounded() {
        assert_eq!(super::reconnect_delay(0).as_millis(), 200);
        assert_eq!(super::reconnect_delay(3).as_millis(), 600);
        assert_eq!(super::reconnect_delay(1000).as_millis(), 2000);
    }
}
