//! RTMP publisher validator with pass/fail exit codes; see `cvmmap_testers::rtmp_stub`.

fn main() {
    std::process::exit(cvmmap_testers::rtmp_stub::main_entry());
}
