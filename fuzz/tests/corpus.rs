//! Every input in `fuzz/corpus/<target>/` (the seeds and whatever the fuzzers found) run
//! through its target, so CI exercises the fuzz targets without a fuzzer.

use std::fs;
use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{target}: only {} corpus inputs", files.len());
    for path in files {
        let data = fs::read(&path).expect("read corpus input");
        // A panic here names the input; replay it with the fuzzer:
        //   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <path>
        eprintln!("{target}: {}", path.display());
        f(&data);
    }
}

#[test]
fn datagram_corpus() {
    replay("datagram", swim_fuzz::datagram);
}

#[test]
fn stream_corpus() {
    replay("stream", swim_fuzz::stream);
}

#[test]
fn decrypt_corpus() {
    replay("decrypt", swim_fuzz::decrypt);
}

#[test]
fn cluster_corpus() {
    replay("cluster", swim_fuzz::cluster);
}

#[test]
fn memberlist_corpus() {
    replay("memberlist", swim_fuzz::memberlist);
}
