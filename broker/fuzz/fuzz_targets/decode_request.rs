//! Any bytes a client can send: the frame splitter, then the request decoder, must answer
//! with a value or an error, never panic, abort or allocate without bound.
#![no_main]

use bytes::{Bytes, BytesMut};
use ferry_broker::protocol::{decode_request, split_frame};
use libfuzzer_sys::fuzz_target;

/// The broker's default `socket.request.max.bytes`.
const MAX_FRAME: usize = 100 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    // The input as it arrives on a connection: size-prefixed frames, possibly several.
    let mut stream = BytesMut::from(data);
    while let Ok(Some(frame)) = split_frame(&mut stream, MAX_FRAME) {
        let _ = decode_request(frame.freeze());
    }
    // The input as one frame body.
    let _ = decode_request(Bytes::copy_from_slice(data));
});
