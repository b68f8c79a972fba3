//! Feeds arbitrary bytes as a session journal read back from a broker (one
//! entry per line) and a client's count: decoding and planning may refuse,
//! never panic; an entry that decodes encodes to itself again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_handoff::{plan, Entry};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the client's count.
    let (n, bytes) = match data {
        [n, rest @ ..] => (u64::from(*n), rest),
        _ => return,
    };
    let mut entries = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        if let Ok(e) = Entry::decode(line) {
            assert_eq!(Entry::decode(&e.encode()).as_ref(), Ok(&e));
            entries.push(e);
        }
    }
    let _ = plan(&entries, n);
});
