//! The minimal configurations the harness writes for the servers it starts:
//! loopback ports chosen for this run, every path (pid, logs, temp files)
//! inside the run folder so that they run as any user and touch nothing
//! else, and everything the rows do not use switched off. docs/smoke/*.md
//! show the same files for running a server by hand.

use std::path::Path;

/// The Debian package's module (libnginx-mod-rtmp).
pub const NGINX_RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// nginx with the RTMP module: `application live { live on; }` and
/// `/stat` (rtmp_stat all) on an HTTP port. One process (`master_process
/// off`, `daemon off`) so the harness supervises nginx itself.
pub fn nginx(dir: &Path, module: &Path, rtmp: u16, http: u16) -> String {
    let d = dir.display();
    format!(
        "# Written by `harness interop`; started as `nginx -p DIR -c DIR/nginx.conf -e DIR/error.log`.
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;

events {{
    worker_connections 64;
}}

rtmp {{
    server {{
        listen 127.0.0.1:{rtmp};
        chunk_size 4096;
        application live {{
            live on;
            record off;
        }}
    }}
}}

http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/temp/client_body;
    proxy_temp_path {d}/temp/proxy;
    fastcgi_temp_path {d}/temp/fastcgi;
    uwsgi_temp_path {d}/temp/uwsgi;
    scgi_temp_path {d}/temp/scgi;
    server {{
        listen 127.0.0.1:{http};
        location /stat {{
            rtmp_stat all;
        }}
    }}
}}
",
        module = module.display()
    )
}

/// SRS (5, 6, 7): RTMP and the HTTP API on loopback, logs on the console
/// (the harness keeps them), no HTTP server, WebRTC or SRT.
pub fn srs(dir: &Path, rtmp: u16, api: u16) -> String {
    let d = dir.display();
    format!(
        "# Written by `harness interop`; started as `srs -c DIR/srs.conf`.
listen              127.0.0.1:{rtmp};
max_connections     64;
daemon              off;
pid                 {d}/srs.pid;
srs_log_tank        console;
srs_log_level       trace;
http_api {{
    enabled         on;
    listen          127.0.0.1:{api};
}}
http_server {{
    enabled         off;
}}
rtc_server {{
    enabled         off;
}}
srt_server {{
    enabled         off;
}}
vhost __defaultVhost__ {{
}}
"
    )
}

/// ZLMediaKit (`MediaServer -c config.ini`): RTMP and the HTTP API on
/// loopback with this run's secret; the other protocols' ports 0 (off).
pub fn zlm(dir: &Path, rtmp: u16, http: u16, secret: &str) -> String {
    let d = dir.display();
    format!(
        "; Written by `harness interop`; started as `MediaServer -c DIR/config.ini`.
[api]
apiDebug=1
secret={secret}
[general]
listen_ip=127.0.0.1
mediaServerId=cvmmap_interop
enableVhost=0
[protocol]
enable_hls=0
enable_hls_fmp4=0
enable_mp4=0
enable_rtsp=0
enable_ts=0
enable_fmp4=0
[hls]
segDur=2
[http]
port={http}
sslport=0
rootPath={d}/www
[rtmp]
port={rtmp}
sslport=0
[rtsp]
port=0
sslport=0
[rtp_proxy]
port=0
[rtc]
port=0
tcpPort=0
[srt]
port=0
[shell]
port=0
"
    )
}

/// MediaMTX (`mediamtx mediamtx.yml`): RTMP and the v3 API on loopback,
/// every path accepted, the other servers off.
pub fn mediamtx(rtmp: u16, api: u16) -> String {
    format!(
        "# Written by `harness interop`; started as `mediamtx DIR/mediamtx.yml`.
logLevel: info
logDestinations: [stdout]
api: yes
apiAddress: 127.0.0.1:{api}
metrics: no
pprof: no
playback: no
rtsp: no
rtmp: yes
rtmpAddress: 127.0.0.1:{rtmp}
hls: no
webrtc: no
srt: no
paths:
  all_others:
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_their_ports_and_folder() {
        let dir = Path::new("/tmp/run/nginx");
        let n = nginx(dir, Path::new(NGINX_RTMP_MODULE), 1935, 8080);
        assert!(n.contains("listen 127.0.0.1:1935;"));
        assert!(n.contains("listen 127.0.0.1:8080;"));
        assert!(n.contains("pid /tmp/run/nginx/nginx.pid;"));
        assert!(srs(dir, 1, 2).contains("listen          127.0.0.1:2;"));
        assert!(zlm(dir, 1, 2, "s3cret").contains("secret=s3cret"));
        assert!(mediamtx(1, 2).contains("rtmpAddress: 127.0.0.1:1"));
    }
}
