//! Heap bytes per member of the member table, counted by a real allocator (dhat), not
//! estimated. Metadata is empty, so what is counted is the table itself: records, index,
//! names. Budget: 100 bytes per member (docs/performance.md).
//!
//!     cargo bench -p swim-core --bench memory

use swim_core::{Bytes, Config, Identity, Instant, Member, Name, State, Swim};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let now = Instant::ZERO;
    // (members, name length, whether the table learns the size up front). Without the size
    // the table grows as it would by joins, one member at a time, and keeps its spare room.
    let cases = [
        (1_000usize, 10usize, true),
        (10_000, 10, true),
        (10_000, 30, true),
        (100_000, 10, true),
        (10_000, 10, false),
        (100_000, 10, false),
    ];
    for (n, name_len, sized) in cases {
        // Members are made as they are inserted, so the names the table keeps (inline up to
        // 22 bytes, shared allocations beyond) are counted and the temporary strings are not.
        let members = (0..n).map(|i| {
            let mut name = format!("node-{i:05}");
            while name.len() < name_len {
                name.push('x');
            }
            Member {
                name: Name::from(name),
                addr: i as u32,
                meta: Bytes::new(),
                incarnation: 0,
                state: State::Alive,
                state_changed: now,
            }
        });
        let mut config = Config::lan();
        config.limits.max_members = n;
        let mut s = Swim::<u32>::new(config, Identity::new("local", u32::MAX), 1, now).unwrap();
        let before = dhat::HeapStats::get().curr_bytes;
        let added = if sized {
            s.restore(now, members)
        } else {
            // `filter` hides the length: the table cannot reserve and grows on its own.
            s.restore(now, members.filter(|_| true))
        };
        let after = dhat::HeapStats::get().curr_bytes;
        let per_member = (after - before) as f64 / added as f64;
        let estimate = s.memory_usage().member_table as f64 / added as f64;
        println!(
            "members {n:>7}, names of {name_len} bytes, {}: {per_member:6.1} bytes per member (allocator); estimate {estimate:6.1}",
            if sized { "size known" } else { "grown    " }
        );
    }
}
