#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| adloom_http::fuzzing::people_ndjson(input));
