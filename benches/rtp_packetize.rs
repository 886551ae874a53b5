//! RTP packetization: our `rtp::RtpPacketizer` against the webrtc-rs `rtp`
//! crate on the same access units, in one run. Run it with
//! `cargo bench --bench rtp_packetize` (short: `-- --warm-up-time 1 --measurement-time 3`).
//!
//! Start-up encodes 60 frames of the 1280x720 test pattern (gop 30, ultrafast,
//! no B-frames: keyframes of tens of KB and P-frames), prints the packet counts
//! and checks both sides carry the same payload volume. An iteration
//! packetizes the whole set at MTU 1400; throughput counts AU bytes. Per packet,
//! `ours` writes header and payload into a reused buffer (no allocation) and
//! the emit closure sums the lengths; `webrtc_rs` allocates a `Bytes` payload
//! for FU and STAP-A/AP packets (single NAL units are slices of the AU) inside a
//! `Vec<Packet>` per AU, then `marshal_to`s each packet into one reused buffer
//! and sums the lengths: both sides end with the same wire bytes in memory.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cvmmap_streamer::codec::nal_units;
use cvmmap_streamer::contract::PixelFormat;
use cvmmap_streamer::encode::gst::GstEncoder;
use cvmmap_streamer::encode::{AccessUnitSink, Codec, EncodeInput, EncoderSettings, VideoEncoder};
use cvmmap_streamer::ingest::{Form, Frame, VideoGeometry, dummy::fill_test_pattern};
use cvmmap_streamer::rtp::{H264Payloader as OurH264, H265Payloader as OurH265};
use cvmmap_streamer::rtp::{PacketizerConfig, Payloader, RTP_HEADER_LEN, RtpPacketizer};
use cvmmap_streamer::telemetry::EncodeCounters;
use rtp::codecs::{h264::H264Payloader, h265::HevcPayloader};
use rtp::packetizer::{Packetizer, new_packetizer};
use webrtc_util::marshal::Marshal;

const MTU: usize = 1400;
const W: u32 = 1280;
const H: u32 = 720;
const FRAME_NS: u64 = 33_333_333;

/// Access units with their 90 kHz RTP timestamps, and their total size.
fn encode(codec: Codec) -> (Vec<(Bytes, u32)>, u64) {
    let units = Arc::new(Mutex::new(Vec::new()));
    let sink: AccessUnitSink = {
        let units = units.clone();
        Arc::new(move |au| units.lock().unwrap().push(au))
    };
    let element = ["x264enc", "x265enc"][usize::from(codec == Codec::H265)];
    let settings = EncoderSettings {
        codec,
        gop: 30,
        b_frames: 0,
        bitrate_kbps: 4000,
        preset: "ultrafast".into(),
    };
    let mut enc =
        GstEncoder::new(settings, element, sink, Arc::new(EncodeCounters::default())).unwrap();
    let geometry = VideoGeometry {
        pixel_format: PixelFormat::Bgr,
        width: W,
        height: H,
        stride: W as usize * 3,
    };
    for i in 0..60 {
        let mut data = vec![0; geometry.plane_bytes()];
        fill_test_pattern(&mut data, W, H, i);
        let pts_ns = i * FRAME_NS;
        let frame = Frame {
            frame_count: i as u32,
            capture_ts_ns: pts_ns,
            geometry,
            data: data.into(),
            form: Form::Raw,
            stamps: None,
            encoded: None,
            frame_rate: None,
            aux: None,
        };
        let input = EncodeInput {
            frame,
            pts_ns,
            force_keyframe: false,
            frame_rate: None,
        };
        enc.encode(input).unwrap();
    }
    enc.finish().unwrap();
    let aus = std::mem::take(&mut *units.lock().unwrap());
    let total: u64 = aus.iter().map(|u| u.data.len() as u64).sum();
    let (n, keys) = (aus.len(), aus.iter().filter(|u| u.keyframe).count());
    println!("{codec}: {n} AUs ({keys} keyframes), {total} bytes");
    let set = aus
        .into_iter()
        .map(|u| (u.data, (u.pts_ns * 9 / 100_000) as u32));
    (set.collect(), total)
}

/// Packetizes the set with ours; returns the sum of `on_packet` over the wire packets.
fn run_ours(
    (pk, pl): &mut (RtpPacketizer, impl Payloader),
    set: &[(Bytes, u32)],
    mut on_packet: impl FnMut(&[u8]) -> usize,
) -> usize {
    let mut sum = 0;
    for (au, ts) in set {
        let emit = |p: &[u8]| {
            sum += on_packet(p);
            Ok::<_, Infallible>(())
        };
        pk.packetize(pl, au, *ts, emit).unwrap();
    }
    sum
}

/// The same with webrtc-rs, marshalling each packet into `buf`.
fn run_webrtc(
    pk: &mut impl Packetizer,
    set: &[(Bytes, u32)],
    buf: &mut [u8],
    mut on_packet: impl FnMut(&[u8]) -> usize,
) -> usize {
    let mut sum = 0;
    for (au, _) in set {
        for packet in pk.packetize(au, 3000).unwrap() {
            let len = packet.marshal_to(buf).unwrap();
            sum += on_packet(&buf[..len]);
        }
    }
    sum
}

/// NAL unit bytes a conforming depacketizer rebuilds from one RTP payload
/// (start codes excepted): single NAL unit, STAP-A/AP or FU-A/FU.
fn nal_bytes(codec: Codec, p: &[u8]) -> usize {
    let (hdr, ty, ap, fu) = match codec {
        Codec::H264 => (1, p[0] & 0x1f, 24, 28),
        Codec::H265 => (2, (p[0] >> 1) & 0x3f, 48, 49),
    };
    if ty == ap {
        let (mut at, mut sum) = (hdr, 0);
        while at + 2 <= p.len() {
            let size = u16::from_be_bytes([p[at], p[at + 1]]) as usize;
            (at, sum) = (at + 2 + size, sum + size);
        }
        sum
    } else if ty == fu {
        p.len() - hdr - 1 + if p[hdr] & 0x80 != 0 { hdr } else { 0 }
    } else {
        p.len()
    }
}

fn bench_codec<P: Payloader + Default>(c: &mut Criterion, codec: Codec) {
    let (set, total) = encode(codec);
    let mut cfg = PacketizerConfig::random(96);
    cfg.mtu = MTU;
    let mut ours = (RtpPacketizer::new(cfg).unwrap(), P::default());
    let payloader: Box<dyn rtp::packetizer::Payloader + Send + Sync> = match codec {
        Codec::H264 => Box::new(H264Payloader::default()),
        Codec::H265 => Box::new(HevcPayloader::default()),
    };
    let sequencer = Box::new(rtp::sequence::new_fixed_sequencer(1));
    let mut theirs = new_packetizer(MTU, 96, cfg.ssrc, payloader, sequencer, 90_000);
    let mut buf = vec![0u8; MTU];

    // Sanity, per side: [packets, RTP payload bytes, rebuilt NAL unit bytes].
    let nals = || set.iter().flat_map(|(au, _)| nal_units(au));
    let source: usize = nals().map(<[u8]>::len).sum();
    let tally = |s: &mut [usize; 3], p: &[u8]| {
        assert!(p.len() <= MTU, "{codec}: {}-byte packet", p.len());
        let pl = &p[RTP_HEADER_LEN..];
        *s = [s[0] + 1, s[1] + pl.len(), s[2] + nal_bytes(codec, pl)];
        p.len()
    };
    let (mut a, mut b) = ([0; 3], [0; 3]);
    run_ours(&mut ours, &set, |p| tally(&mut a, p));
    run_webrtc(&mut theirs, &set, &mut buf, |p| tally(&mut b, p));
    let what = "[packets, payload bytes, rebuilt NAL unit bytes] per set";
    println!("{codec}: {what}: ours {a:?}, webrtc-rs {b:?}; AUs' NAL bytes {source}");
    assert_eq!(a[2], source, "{codec}: ours lost NAL unit bytes");
    // Payload volumes may differ only by payload/FU/aggregation headers:
    // at most 3 bytes per packet, plus a 2-byte size field per NAL unit.
    let slack = 3 * (a[0] + b[0]) + 2 * nals().count();
    assert!(a[1].abs_diff(b[1]) <= slack, "{codec}: {a:?} vs {b:?}");
    if b[2] != source {
        println!("  NOTE: webrtc-rs's packets do not depacketize to the AUs' NAL units");
    }

    let mut group = c.benchmark_group(codec.to_string().to_lowercase());
    group.throughput(Throughput::Bytes(total));
    group.bench_function("ours", |bench| {
        bench.iter(|| run_ours(&mut ours, &set, <[u8]>::len))
    });
    group.bench_function("webrtc_rs", |bench| {
        bench.iter(|| run_webrtc(&mut theirs, &set, &mut buf, <[u8]>::len))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_codec::<OurH264>(c, Codec::H264);
    bench_codec::<OurH265>(c, Codec::H265);
}

criterion_group!(rtp_packetize, benches);
criterion_main!(rtp_packetize);
