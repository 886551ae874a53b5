//! Local pools: `--jobs N` slots, or `--hardware-jobs N` slots over
//! `--hardware-devices` plus `--software-jobs M`. A slot runs one job at a
//! time, so no pool ever runs more jobs than it has slots (NVENC session
//! limits hold), and a failed job only ends its own run.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::job::{self, Job, Outcome, Slot};

/// The slots to run with.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pools {
    pub any: usize,
    pub hardware: usize,
    pub devices: Vec<u32>,
    pub software: usize,
}

impl Pools {
    /// One entry per slot; hardware slots take the devices in turn.
    pub fn slots(&self) -> Vec<Slot> {
        let devices = if self.devices.is_empty() {
            vec![0]
        } else {
            self.devices.clone()
        };
        let mut s = vec![Slot::Any; self.any];
        s.extend((0..self.hardware).map(|i| Slot::Hardware {
            device: devices[i % devices.len()],
        }));
        s.extend(std::iter::repeat_n(Slot::Software, self.software));
        s
    }
}

/// What a pool reports as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        id: String,
        desc: String,
        slot: Slot,
        worker: String,
        delivery: u64,
    },
    Done(Outcome),
}

/// Runs `jobs` on `pools`' slots with `tools`; `on_event` sees every start
/// and end, `tick` is called at least every 250 ms (progress). Outcomes in
/// the order jobs finished.
pub fn run_local(
    jobs: Vec<Job>,
    pools: &Pools,
    tools: &Path,
    on_event: &mut dyn FnMut(Event),
    tick: &mut dyn FnMut(),
) -> Vec<Outcome> {
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let (tx, rx) = mpsc::channel();
    let mut threads = Vec::new();
    for slot in pools.slots() {
        let (queue, tx, tools) = (queue.clone(), tx.clone(), tools.to_owned());
        threads.push(std::thread::spawn(move || {
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(job) = next else { break };
                let _ = tx.send(Event::Started {
                    id: job.id.clone(),
                    desc: job.describe(),
                    slot,
                    worker: job::worker_name(),
                    delivery: 1,
                });
                let outcome = job::run(&tools, &job, slot, 1);
                if tx.send(Event::Done(outcome)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut outcomes = Vec::with_capacity(total);
    while outcomes.len() < total {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(ev) => {
                if let Event::Done(o) = &ev {
                    outcomes.push(o.clone());
                }
                on_event(ev);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        tick();
    }
    for t in threads {
        let _ = t.join();
    }
    outcomes
}

/// The most jobs of each pool that ran at once (from their start and end
/// times): the report's evidence that no limit was exceeded.
pub fn max_concurrent(outcomes: &[Outcome], pool: impl Fn(&Slot) -> bool) -> usize {
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for o in outcomes.iter().filter(|o| pool(&o.slot)) {
        edges.push((o.started_unix_ms, 1));
        // An end at the same instant as another start frees its slot first.
        edges.push((o.ended_unix_ms, -1));
    }
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_pools_spread_hardware_slots_over_devices() {
        let p = Pools {
            any: 0,
            hardware: 3,
            devices: vec![0, 1],
            software: 1,
        };
        assert_eq!(
            p.slots(),
            vec![
                Slot::Hardware { device: 0 },
                Slot::Hardware { device: 1 },
                Slot::Hardware { device: 0 },
                Slot::Software
            ]
        );
    }
}
