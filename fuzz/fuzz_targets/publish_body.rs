//! `POST /publish` bodies (and, through the same field-value rules, the
//! JSON payloads of NATS messages): whatever an application sends, reading
//! it never panics, and a body that reads names an item and a field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_adapter::PublishRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = PublishRequest::parse(data) {
        assert!(!p.item.is_empty());
        assert!(p.event.fields().next().is_some());
    }
});
