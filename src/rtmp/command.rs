//! AMF0 command and data messages for a publisher (RTMP spec 1.0 §7.1.1,
//! §7.1.2, §7.2.1 NetConnection commands, §7.2.2 NetStream commands), the
//! FMLE-style `releaseStream`/`FCPublish` calls that servers expect, and
//! Enhanced RTMP's `fourCcList` (veovera enhanced-rtmp v1/v2).

use thiserror::Error;

use super::amf0::{self, Amf0Error, Value};
use super::message::{Message, MessageType};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("command message is not valid AMF0: {0}")]
    Amf0(#[from] Amf0Error),
    #[error("command message does not start with a command name string")]
    MissingName,
    #[error("{0:?} is not a command message")]
    NotACommand(MessageType),
}

/// Parameters of the `connect` command object (§7.2.1.1).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectParams {
    pub app: String,
    pub tc_url: String,
    pub flash_ver: String,
    /// Enhanced RTMP: codecs we may send, e.g. `["hvc1"]`; `None` omits it.
    pub four_cc_list: Option<Vec<String>>,
}

impl ConnectParams {
    /// The flashVer FMLE-compatible encoders send (FFmpeg, OBS).
    pub const DEFAULT_FLASH_VER: &str = "FMLE/3.0 (compatible; FMSc/1.0)";

    pub fn new(app: impl Into<String>, tc_url: impl Into<String>) -> Self {
        Self {
            app: app.into(),
            tc_url: tc_url.into(),
            flash_ver: Self::DEFAULT_FLASH_VER.into(),
            four_cc_list: None,
        }
    }
}

fn command(stream_id: u32, values: &[Value]) -> Message {
    let mut payload = Vec::new();
    amf0::encode_all(values, &mut payload);
    Message::new(MessageType::COMMAND_AMF0, stream_id, 0, payload)
}

/// `connect` (§7.2.1.1) on message stream 0. Transaction id is normally 1.
pub fn connect(transaction_id: f64, params: &ConnectParams) -> Message {
    let mut obj = vec![
        ("app".to_owned(), Value::string(&params.app)),
        ("type".to_owned(), Value::string("nonprivate")),
        ("flashVer".to_owned(), Value::string(&params.flash_ver)),
        ("tcUrl".to_owned(), Value::string(&params.tc_url)),
    ];
    if let Some(list) = &params.four_cc_list {
        obj.push((
            "fourCcList".to_owned(),
            Value::StrictArray(list.iter().map(Value::string).collect()),
        ));
    }
    command(
        0,
        &[
            Value::string("connect"),
            Value::Number(transaction_id),
            Value::Object(obj),
        ],
    )
}

fn stream_name_call(name: &str, transaction_id: f64, stream_name: &str) -> Message {
    command(
        0,
        &[
            Value::string(name),
            Value::Number(transaction_id),
            Value::Null,
            Value::string(stream_name),
        ],
    )
}

/// `releaseStream` (FMLE convention, not in the spec) on message stream 0.
pub fn release_stream(transaction_id: f64, stream_name: &str) -> Message {
    stream_name_call("releaseStream", transaction_id, stream_name)
}

/// `FCPublish` (FMLE convention) on message stream 0.
pub fn fc_publish(transaction_id: f64, stream_name: &str) -> Message {
    stream_name_call("FCPublish", transaction_id, stream_name)
}

/// `FCUnpublish` (FMLE convention) on message stream 0.
pub fn fc_unpublish(transaction_id: f64, stream_name: &str) -> Message {
    stream_name_call("FCUnpublish", transaction_id, stream_name)
}

/// `createStream` (§7.2.1.3); the `_result` carries the message stream id
/// (see [`IncomingCommand::stream_id`]).
pub fn create_stream(transaction_id: f64) -> Message {
    command(
        0,
        &[
            Value::string("createStream"),
            Value::Number(transaction_id),
            Value::Null,
        ],
    )
}

/// `deleteStream` (§7.2.2.3) on message stream 0.
pub fn delete_stream(transaction_id: f64, stream_id: u32) -> Message {
    command(
        0,
        &[
            Value::string("deleteStream"),
            Value::Number(transaction_id),
            Value::Null,
            Value::Number(f64::from(stream_id)),
        ],
    )
}

/// `publish` (§7.2.2.6) of `stream_name` as "live" on message stream
/// `stream_id` (from `createStream`). `stream_name` may carry `?query`.
pub fn publish(transaction_id: f64, stream_id: u32, stream_name: &str) -> Message {
    command(
        stream_id,
        &[
            Value::string("publish"),
            Value::Number(transaction_id),
            Value::Null,
            Value::string(stream_name),
            Value::string("live"),
        ],
    )
}

/// `@setDataFrame("onMetaData", {..})` data message (type 18) on message
/// stream `stream_id`; the server stores it and hands it to players.
/// Properties are sent in the given order as an ECMA array.
pub fn set_data_frame<K: AsRef<str>>(stream_id: u32, metadata: &[(K, Value)]) -> Message {
    let props = metadata
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.clone()))
        .collect();
    let mut payload = Vec::new();
    amf0::encode_all(
        &[
            Value::string("@setDataFrame"),
            Value::string("onMetaData"),
            Value::EcmaArray(props),
        ],
        &mut payload,
    );
    Message::new(MessageType::DATA_AMF0, stream_id, 0, payload)
}

/// `level`/`code`/`description` of an info object (§7.2.1.1, §7.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusInfo {
    pub level: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
}

impl StatusInfo {
    fn from_object(v: &Value) -> Self {
        let text = |k| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            level: text("level"),
            code: text("code"),
            description: text("description"),
        }
    }

    /// The last object among `args` that has a `code`, else the last object.
    fn find(args: &[Value]) -> Self {
        args.iter()
            .rev()
            .find(|v| v.get("code").is_some())
            .or_else(|| args.iter().rev().find(|v| v.properties().is_some()))
            .map(Self::from_object)
            .unwrap_or_default()
    }
}

/// A command received from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum IncomingCommand {
    /// `_result`; `args` are the values after the transaction id (command
    /// object first), `status` is taken from the info object.
    Result {
        transaction_id: f64,
        status: StatusInfo,
        args: Vec<Value>,
    },
    /// `_error`, same shape as `Result`.
    Error {
        transaction_id: f64,
        status: StatusInfo,
        args: Vec<Value>,
    },
    /// `onStatus` (§7.2.2), e.g. code `NetStream.Publish.Start`.
    OnStatus {
        transaction_id: f64,
        status: StatusInfo,
    },
    /// `onBWDone` (bandwidth check done; no answer needed).
    OnBwDone,
    Other {
        name: String,
        transaction_id: Option<f64>,
        args: Vec<Value>,
    },
}

impl IncomingCommand {
    /// Parses an AMF0 command payload (type 20).
    pub fn parse(payload: &[u8]) -> Result<Self, CommandError> {
        let mut values = amf0::decode_all(payload)?.into_iter();
        let name = match values.next() {
            Some(Value::String(s) | Value::LongString(s)) => s,
            _ => return Err(CommandError::MissingName),
        };
        let mut rest: Vec<Value> = values.collect();
        let transaction_id = match rest.first() {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        };
        if transaction_id.is_some() {
            rest.remove(0);
        }
        let tid = transaction_id.unwrap_or(0.0);
        Ok(match name.as_str() {
            "_result" => Self::Result {
                transaction_id: tid,
                status: StatusInfo::find(&rest),
                args: rest,
            },
            "_error" => Self::Error {
                transaction_id: tid,
                status: StatusInfo::find(&rest),
                args: rest,
            },
            "onStatus" => Self::OnStatus {
                transaction_id: tid,
                status: StatusInfo::find(&rest),
            },
            "onBWDone" => Self::OnBwDone,
            _ => Self::Other {
                name,
                transaction_id,
                args: rest,
            },
        })
    }

    /// Parses a command message: AMF0 (type 20), or AMF3 (type 17) whose
    /// body starts with a 0 format byte followed by AMF0 values.
    pub fn from_message(msg: &Message) -> Result<Self, CommandError> {
        match msg.header.type_id {
            MessageType::COMMAND_AMF0 => Self::parse(&msg.payload),
            MessageType::COMMAND_AMF3 => {
                Self::parse(msg.payload.strip_prefix(&[0]).unwrap_or(&msg.payload))
            }
            t => Err(CommandError::NotACommand(t)),
        }
    }

    /// The transaction id, if the command carries one.
    pub fn transaction_id(&self) -> Option<f64> {
        match self {
            Self::Result { transaction_id, .. }
            | Self::Error { transaction_id, .. }
            | Self::OnStatus { transaction_id, .. } => Some(*transaction_id),
            Self::OnBwDone => None,
            Self::Other { transaction_id, .. } => *transaction_id,
        }
    }

    /// The status of `_result`, `_error` or `onStatus`.
    pub fn status(&self) -> Option<&StatusInfo> {
        match self {
            Self::Result { status, .. }
            | Self::Error { status, .. }
            | Self::OnStatus { status, .. } => Some(status),
            _ => None,
        }
    }

    /// For the `_result` of `createStream`: the message stream id (the
    /// first number after the command object).
    pub fn stream_id(&self) -> Option<u32> {
        let Self::Result { args, .. } = self else {
            return None;
        };
        args.iter().find_map(|v| {
            let n = v.as_number()?;
            (n.is_finite() && n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0)
                .then_some(n as u32)
        })
    }
}
