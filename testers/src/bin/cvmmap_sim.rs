//! cv-mmap producer simulator; see `cvmmap_testers::sim`.

fn main() {
    std::process::exit(cvmmap_testers::sim::main_entry());
}
