//! The protobuf messages of contract §4 (`package cvmmap.proto`), written as
//! prost derives so that no protoc or build script is needed. Field numbers
//! and enum values are the wire contract: never renumber.

/// `cvmmap.proto.ModuleStatusCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ModuleStatusCode {
    Unknown = 0,
    Online = 1,
    Offline = 2,
    StreamReset = 3,
}

/// `cvmmap.proto.ErrorCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    UnknownCmd = 1,
    Error = 2,
    Unsupported = 3,
    InvalidPayload = 4,
    OutOfRange = 5,
    Timeout = 6,
}

/// `cvmmap.proto.SourceKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SourceKind {
    Unknown = 0,
    Live = 1,
    Finite = 2,
}

/// `cvmmap.proto.TimestampDomain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TimestampDomain {
    Unknown = 0,
    UnixEpochNs = 1,
    MediaTimeNs = 2,
}

/// Published on `cvmmap.<key>.status`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModuleStatusEvent {
    #[prost(enumeration = "ModuleStatusCode", tag = "1")]
    pub status: i32,
    #[prost(string, tag = "2")]
    pub instance: String,
    #[prost(uint64, tag = "3")]
    pub timestamp_ns: u64,
}

/// Request on `…producer.source.info` (or `…control.source.info`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSourceInfoRequest {}

/// Reply to [`GetSourceInfoRequest`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSourceInfoResponse {
    #[prost(enumeration = "ErrorCode", tag = "1")]
    pub error: i32,
    #[prost(enumeration = "SourceKind", tag = "2")]
    pub source_kind: i32,
    #[prost(enumeration = "TimestampDomain", tag = "3")]
    pub timestamp_domain: i32,
    #[prost(uint32, tag = "4")]
    pub flags: u32,
    #[prost(uint64, tag = "5")]
    pub timeline_start_ns: u64,
    #[prost(uint64, tag = "6")]
    pub timeline_end_ns: u64,
    #[prost(uint64, tag = "7")]
    pub duration_ns: u64,
    #[prost(uint64, tag = "8")]
    pub current_timestamp_ns: u64,
    #[prost(uint32, tag = "9")]
    pub current_frame_count: u32,
}

/// GetSourceInfoResponse.flags bits (contract §4).
pub mod source_flags {
    pub const CAN_SEEK: u32 = 0x1;
    pub const AUTO_LOOP: u32 = 0x2;
    pub const HAS_DEPTH: u32 = 0x4;
    pub const HAS_BODY: u32 = 0x8;
    pub const CAN_RECORD: u32 = 0x10;
    pub const LOOP_EMITS_RESET: u32 = 0x20;
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn status_event_wire_bytes() {
        // Field 1 varint 3, field 2 "cam", field 3 varint 5 (protobuf encoding).
        let ev = ModuleStatusEvent {
            status: ModuleStatusCode::StreamReset as i32,
            instance: "cam".into(),
            timestamp_ns: 5,
        };
        assert_eq!(
            ev.encode_to_vec(),
            [0x08, 3, 0x12, 3, b'c', b'a', b'm', 0x18, 5]
        );
        assert_eq!(
            ModuleStatusEvent::decode(&ev.encode_to_vec()[..]).unwrap(),
            ev
        );
    }

    #[test]
    fn source_info_round_trip_and_unknown_fields() {
        let r = GetSourceInfoResponse {
            source_kind: SourceKind::Live as i32,
            timestamp_domain: TimestampDomain::UnixEpochNs as i32,
            flags: source_flags::HAS_BODY,
            current_frame_count: 9,
            ..Default::default()
        };
        let mut bytes = r.encode_to_vec();
        // A newer producer's field 20 is skipped, not an error.
        bytes.extend_from_slice(&[0xa0, 0x01, 7]);
        assert_eq!(GetSourceInfoResponse::decode(&bytes[..]).unwrap(), r);
    }
}
