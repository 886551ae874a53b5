#!/usr/bin/env python3
"""Reads an MCAP recording with the reference Python readers (PyPI `mcap`
and `mcap-protobuf-support`, code we did not write) and reports what a
viewer would see, as one JSON object on stdout:

  {"library": ..., "statistics": {...}, "channels": {topic: {...}}}

Per channel: schema name and encoding, message encoding, metadata, the
message count, whether log_time rises strictly, how many messages have
publish_time == the protobuf timestamp, the CompressedVideo formats and
frame ids seen, and how many keyframe messages lack parameter sets.

Metadata records come as {name: {key: value}}. Raw channels (no schema)
list each message's first byte and the u64 LE at offset 8 (for
/<label>/body: the magic and the frame timestamp). Every channel also lists its messages' log times and sequences (in file
order), video channels whether their first message is a keyframe, and JSON
channels (the recorder's /bundle) their decoded messages.

With --dump-dir DIR, each CompressedVideo channel's payloads go to
DIR/<topic with / as _>.units: u32 LE length, then the Annex-B bytes (the
layout of rtp_receiver_tester --dump-units); each RawImage channel's images
to DIR/<topic with / as _>.images: u32 LE width, height, step, data length,
u64 LE timestamp (ns), then the data. RawImage channels also report their
encodings and sizes.

Exit 0 when the file reads to the end, 1 (with the reader's error on
stderr) when it does not.
"""
import argparse
import json
import os
import struct
import sys

from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory


def nal_types(data, fmt):
    """NAL unit types of an Annex-B access unit (start codes 3 or 4 bytes)."""
    types, i, n = [], 0, len(data)
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0 or j + 3 >= n:
            return types
        h = data[j + 3]
        types.append(h & 0x1F if fmt == "h264" else (h >> 1) & 0x3F)
        i = j + 3


def is_key(types, fmt):
    if fmt == "h264":
        return 5 in types
    return any(16 <= t <= 23 for t in types)  # IRAP (H.265 Table 7-1)


def has_parameter_sets(types, fmt):
    if fmt == "h264":
        return 7 in types and 8 in types
    return 32 in types and 33 in types and 34 in types


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--dump-dir")
    args = ap.parse_args()
    channels, dumps = {}, {}
    with open(args.path, "rb") as f:
        reader = make_reader(f)
        factory, decoders = DecoderFactory(), {}
        header = reader.get_header()
        summary = reader.get_summary()
        stats = summary.statistics if summary else None
        try:
            for schema, channel, message in reader.iter_messages(log_time_order=False):
                if channel.message_encoding == "json":
                    proto = json.loads(message.data)
                else:
                    if channel.id not in decoders:
                        decoders[channel.id] = factory.decoder_for(channel.message_encoding, schema)
                    # No decoder: a raw channel (no schema, e.g. /<label>/body).
                    decode = decoders[channel.id]
                    proto = decode(message.data) if decode else None
                c = channels.setdefault(channel.topic, {
                    "schema": schema.name if schema else None,
                    "schema_encoding": schema.encoding if schema else None,
                    "message_encoding": channel.message_encoding,
                    "metadata": dict(channel.metadata),
                    "messages": 0,
                    "log_time_strictly_rising": True,
                    "publish_time_is_timestamp": 0,
                    "formats": [],
                    "frame_ids": [],
                    "keyframes": 0,
                    "keyframes_without_parameter_sets": 0,
                    "first_log_time": message.log_time,
                    "last_log_time": None,
                    "log_times": [],
                    "sequences": [],
                })
                c["log_times"].append(message.log_time)
                c["sequences"].append(message.sequence)
                if channel.message_encoding == "json":
                    c.setdefault("json", []).append(proto)
                if proto is None:  # raw: the first 8 bytes after an 8-byte prefix
                    c.setdefault("raw_u64_at_8", []).append(
                        struct.unpack_from("<Q", message.data, 8)[0] if len(message.data) >= 16 else None)
                    c.setdefault("raw_first_byte", []).append(message.data[0] if message.data else None)
                if c["last_log_time"] is not None and message.log_time <= c["last_log_time"]:
                    c["log_time_strictly_rising"] = False
                c["last_log_time"] = message.log_time
                c["messages"] += 1
                if schema and schema.name == "foxglove.CompressedVideo":
                    ts = proto.timestamp.seconds * 1_000_000_000 + proto.timestamp.nanos
                    if ts == message.publish_time:
                        c["publish_time_is_timestamp"] += 1
                    if proto.format not in c["formats"]:
                        c["formats"].append(proto.format)
                    if proto.frame_id not in c["frame_ids"]:
                        c["frame_ids"].append(proto.frame_id)
                    types = nal_types(proto.data, proto.format)
                    key = is_key(types, proto.format)
                    c.setdefault("first_is_keyframe", key)
                    if key:
                        c["keyframes"] += 1
                        if not has_parameter_sets(types, proto.format):
                            c["keyframes_without_parameter_sets"] += 1
                    if args.dump_dir:
                        if channel.topic not in dumps:  # video
                            name = channel.topic.strip("/").replace("/", "_") + ".units"
                            dumps[channel.topic] = open(os.path.join(args.dump_dir, name), "wb")
                        d = dumps[channel.topic]
                        d.write(struct.pack("<I", len(proto.data)))
                        d.write(proto.data)
                if schema and schema.name == "foxglove.RawImage":
                    if proto.encoding not in c["formats"]:
                        c["formats"].append(proto.encoding)
                    size = [proto.width, proto.height, proto.step, len(proto.data)]
                    if size not in c.setdefault("sizes", []):
                        c["sizes"].append(size)
                    ts = proto.timestamp.seconds * 1_000_000_000 + proto.timestamp.nanos
                    if ts == message.publish_time:
                        c["publish_time_is_timestamp"] += 1
                    if args.dump_dir:
                        if channel.topic not in dumps:
                            name = channel.topic.strip("/").replace("/", "_") + ".images"
                            dumps[channel.topic] = open(os.path.join(args.dump_dir, name), "wb")
                        d = dumps[channel.topic]
                        d.write(struct.pack("<IIIIQ", proto.width, proto.height, proto.step, len(proto.data), ts))
                        d.write(proto.data)
        except Exception as e:  # the reader's own words, for the test's message
            print(f"mcap_check: {args.path}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        finally:
            for d in dumps.values():
                d.close()
    with open(args.path, "rb") as f:
        metadata = {m.name: dict(m.metadata) for m in make_reader(f).iter_metadata()}
    out = {
        "metadata": metadata,
        "library": header.library,
        "profile": header.profile,
        "statistics": None if stats is None else {
            "message_count": stats.message_count,
            "channel_count": stats.channel_count,
            "chunk_count": stats.chunk_count,
            "message_start_time": stats.message_start_time,
            "message_end_time": stats.message_end_time,
        },
        "channels": channels,
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
