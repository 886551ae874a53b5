//! `rtmp://host[:port]/app[/...]/stream` publish URLs (`rtmp::RtmpUrl`,
//! from the command line).
//!
//! Invariants: the canonical form (`expose`, `tcUrl/stream`) parses back to
//! the same parts; `Display` never shows the stream name (the publish key).
#![no_main]

use cvmmap_streamer::rtmp::RtmpUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(url) = RtmpUrl::parse(&text) else {
        return;
    };
    assert!(!url.host.is_empty() && !url.app.is_empty() && !url.stream.is_empty());
    assert_ne!(url.port, 0);
    let tc_url = url.tc_url();
    let canonical = url.expose();
    assert_eq!(canonical, format!("{tc_url}/{}", url.stream));
    assert_eq!(
        RtmpUrl::parse(&canonical).as_ref(),
        Ok(&url),
        "{text:?} -> {canonical:?}"
    );
    let printed = url.to_string();
    if !tc_url.contains(&url.stream) && !"***".contains(&url.stream) {
        assert!(
            !printed.contains(&url.stream),
            "{printed:?} shows {:?}",
            url.stream
        );
    }
});
