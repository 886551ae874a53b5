//! Strict RTP receiver with pass/fail exit codes; see `cvmmap_testers::rtp_rx`.

fn main() {
    std::process::exit(cvmmap_testers::rtp_rx::main_entry());
}
