//! The protobuf messages of `package cvmmap.proto` that the simulator speaks
//! on NATS (contract `cv-mmap-ipc.md` §4), written by hand with prost's derive
//! macros (no protoc, no build script). Field numbers and enum values are
//! exactly the contract's; names follow it too.

/// §4 `ModuleStatusCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ModuleStatusCode {
    Unknown = 0,
    Online = 1,
    Offline = 2,
    StreamReset = 3,
}

/// §4 `ModuleStatusEvent`, published on `cvmmap.<key>.status`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModuleStatusEvent {
    #[prost(enumeration = "ModuleStatusCode", tag = "1")]
    pub status: i32,
    #[prost(string, tag = "2")]
    pub instance: String,
    #[prost(uint64, tag = "3")]
    pub timestamp_ns: u64,
}

/// §4 `ErrorCode`.
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

/// §4 `SourceKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SourceKind {
    Unknown = 0,
    Live = 1,
    Finite = 2,
}

/// §4 `TimestampDomain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TimestampDomain {
    Unknown = 0,
    UnixEpochNs = 1,
    MediaTimeNs = 2,
}

/// §4 source flags (`GetSourceInfoResponse.flags`).
pub mod flags {
    pub const CAN_SEEK: u32 = 0x1;
    pub const AUTO_LOOP: u32 = 0x2;
    pub const HAS_DEPTH: u32 = 0x4;
    pub const HAS_BODY: u32 = 0x8;
    pub const CAN_RECORD: u32 = 0x10;
    pub const LOOP_EMITS_RESET: u32 = 0x20;
}

/// §4 `ResetFrameCountRequest {}` on `cvmmap.<key>.producer.source.reset`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResetFrameCountRequest {}

/// §4 `ResetFrameCountResponse { ErrorCode error = 1; }`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResetFrameCountResponse {
    #[prost(enumeration = "ErrorCode", tag = "1")]
    pub error: i32,
}

/// §4 `GetSourceInfoRequest {}` on `cvmmap.<key>.producer.source.info`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSourceInfoRequest {}

/// §4 `GetSourceInfoResponse`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Field numbers and wire types, checked against hand-encoded bytes
    /// (protobuf encoding: key = field << 3 | wire type; varints LEB128).
    #[test]
    fn status_event_wire_bytes() {
        let e = ModuleStatusEvent {
            status: ModuleStatusCode::StreamReset as i32,
            instance: "cam".into(),
            timestamp_ns: 300,
        };
        assert_eq!(
            e.encode_to_vec(),
            [0x08, 3, 0x12, 3, b'c', b'a', b'm', 0x18, 0xAC, 0x02]
        );
        let back = ModuleStatusEvent::decode(&[0x08u8, 2][..]).unwrap();
        assert_eq!(back.status(), ModuleStatusCode::Offline);
        assert_eq!((back.instance.as_str(), back.timestamp_ns), ("", 0));
    }

    #[test]
    fn source_info_wire_bytes() {
        let r = GetSourceInfoResponse {
            error: ErrorCode::InvalidPayload as i32,
            source_kind: SourceKind::Live as i32,
            timestamp_domain: TimestampDomain::UnixEpochNs as i32,
            flags: flags::HAS_BODY,
            timeline_start_ns: 5,
            timeline_end_ns: 6,
            duration_ns: 7,
            current_timestamp_ns: 8,
            current_frame_count: 9,
        };
        assert_eq!(
            r.encode_to_vec(),
            [
                0x08, 4, 0x10, 1, 0x18, 1, 0x20, 8, 0x28, 5, 0x30, 6, 0x38, 7, 0x40, 8, 0x48, 9
            ]
        );
        assert_eq!(
            ResetFrameCountResponse {
                error: ErrorCode::Timeout as i32
            }
            .encode_to_vec(),
            [0x08, 6]
        );
        // proto3: default values are not written.
        assert!(
            ResetFrameCountResponse::default()
                .encode_to_vec()
                .is_empty()
        );
    }

    #[test]
    fn empty_requests_accept_unknown_fields_but_not_garbage() {
        assert!(GetSourceInfoRequest::decode(&[][..]).is_ok());
        assert!(ResetFrameCountRequest::decode(&[0x08u8, 1][..]).is_ok());
        assert!(GetSourceInfoRequest::decode(&[0xFFu8][..]).is_err());
        assert!(ResetFrameCountRequest::decode(&b"garbage"[..]).is_err());
    }
}
