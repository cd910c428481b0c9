#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| adloom_http::fuzzing::decision_request(input));
