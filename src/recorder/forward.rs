//! The sink each camera's pipeline gets: its access units, forwarded to
//! the writer thread. The units are the encoder's buffers (a reference
//! count, no copy). `send` blocks while the writer's queue is full; that
//! blocks only this sink's own thread, and its lane in the fan-out then
//! drops to the next keyframe (the pipeline's drop policy), never the
//! encoder or another camera.

use std::sync::mpsc::SyncSender;

use super::writer::Msg;
use crate::encode::AccessUnit;
use crate::output::{Flow, OutputError, Sink};

pub(super) struct Forward {
    source: usize,
    tx: Option<SyncSender<Msg>>,
}

impl Forward {
    pub fn new(source: usize, tx: SyncSender<Msg>) -> Self {
        Self {
            source,
            tx: Some(tx),
        }
    }
}

impl Sink for Forward {
    fn name(&self) -> &'static str {
        "record"
    }

    fn write(&mut self, unit: &AccessUnit) -> Result<Flow, OutputError> {
        if let Some(tx) = &self.tx
            && tx
                .send(Msg::Unit {
                    source: self.source,
                    unit: unit.clone(),
                })
                .is_err()
        {
            // The writer has gone (it failed and said why): nothing more
            // to forward.
            self.tx = None;
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self) {
        self.tx = None;
    }
}
