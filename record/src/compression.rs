//! Decompression of the records section of compressed v2 batches (attributes & 7 = 1 gzip,
//! 2 snappy, 3 lz4, 4 zstd), with the framings Kafka clients write.
//!
//! All decoders are pure Rust (`flate2` on miniz_oxide, `snap`, `lz4_flex`, `ruzstd`): no C
//! toolchain, short builds. Output is capped at [`MAX_DECOMPRESSED_SIZE`] so a small batch
//! cannot make a reader allocate without bound; corrupt input is a
//! [`Error::CorruptBatch`], never a panic.

use std::io::Read;

use bytes::Bytes;

use super::batch::BATCH_HEADER_SIZE;
use crate::{Error, Result};

/// Largest records section a compressed batch may decompress to (64 MiB). Larger output is
/// refused as [`Error::CorruptBatch`]. Kafka's default `max.message.bytes` is 1 MiB of
/// *compressed* batch, so this leaves room for a 64:1 ratio.
pub const MAX_DECOMPRESSED_SIZE: usize = 64 << 20;

/// Codec ids (attributes & 7).
pub(crate) const GZIP: i16 = 1;
pub(crate) const SNAPPY: i16 = 2;
pub(crate) const LZ4: i16 = 3;
pub(crate) const ZSTD: i16 = 4;

/// The header of the xerial "snappy-java" stream format (Kafka's Java producer): magic,
/// then version and minimum compatible version (i32 each), then blocks of
/// `[i32 compressed length][raw snappy block]`.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_SIZE: usize = 16;

fn corrupt(codec: i16, reason: impl std::fmt::Display) -> Error {
    Error::CorruptBatch {
        position: BATCH_HEADER_SIZE,
        reason: format!("{} records section: {reason}", codec_name(codec)),
    }
}

fn codec_name(codec: i16) -> &'static str {
    match codec {
        GZIP => "gzip",
        SNAPPY => "snappy",
        LZ4 => "lz4",
        ZSTD => "zstd",
        _ => "unknown codec",
    }
}

/// Decompresses `input` (the bytes after the batch header) with `codec`, producing at most
/// `limit` bytes. `attributes` only goes into the error for an unknown codec.
pub(crate) fn decompress(codec: i16, attributes: i16, input: &[u8], limit: usize) -> Result<Bytes> {
    // The decoders are third-party code fed with untrusted bytes; they are meant to return
    // errors, and a panic would still only fail this batch, not the thread reading it.
    let out = std::panic::catch_unwind(|| match codec {
        GZIP => read_capped(codec, flate2::read::MultiGzDecoder::new(input), limit),
        SNAPPY => snappy(input, limit),
        LZ4 => read_capped(codec, lz4_flex::frame::FrameDecoder::new(input), limit),
        ZSTD => zstd(input, limit),
        _ => Err(Error::UnsupportedCompression { codec, attributes }),
    })
    .unwrap_or_else(|_| Err(corrupt(codec, "decoder panicked")))?;
    Ok(Bytes::from(out))
}

fn too_large(codec: i16, limit: usize) -> Error {
    corrupt(codec, format!("decompresses to more than {limit} bytes"))
}

/// Reads `r` to the end, failing once more than `limit` bytes come out.
fn read_capped(codec: i16, r: impl Read, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit {
        return Err(too_large(codec, limit));
    }
    Ok(out)
}

/// zstd: one or more frames (Kafka writes one), decoded in streaming fashion.
fn zstd(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let decoder =
            ruzstd::decoding::StreamingDecoder::new(&mut rest).map_err(|e| corrupt(ZSTD, e))?;
        let room = limit - out.len();
        decoder
            .take(room as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| corrupt(ZSTD, e))?;
        if out.len() > limit {
            return Err(too_large(ZSTD, limit));
        }
    }
    if input.is_empty() {
        return Err(corrupt(ZSTD, "empty"));
    }
    Ok(out)
}

/// snappy: the xerial stream format if it starts with its magic, else one raw snappy block
/// (librdkafka writes raw blocks; it and Kafka read both).
fn snappy(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut decoder = snap::raw::Decoder::new();
    let mut out = Vec::new();
    let mut block = |block: &[u8], out: &mut Vec<u8>| -> Result<()> {
        let len = snap::raw::decompress_len(block).map_err(|e| corrupt(SNAPPY, e))?;
        if len > limit - out.len() {
            return Err(too_large(SNAPPY, limit));
        }
        let start = out.len();
        out.resize(start + len, 0);
        let n = decoder
            .decompress(block, &mut out[start..])
            .map_err(|e| corrupt(SNAPPY, e))?;
        out.truncate(start + n);
        Ok(())
    };
    let Some(mut rest) = input.strip_prefix(XERIAL_MAGIC) else {
        block(input, &mut out)?;
        return Ok(out);
    };
    if input.len() < XERIAL_HEADER_SIZE {
        return Err(corrupt(SNAPPY, "truncated xerial header"));
    }
    rest = &rest[XERIAL_HEADER_SIZE - XERIAL_MAGIC.len()..]; // version, compatible version
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(corrupt(SNAPPY, "truncated xerial block length"));
        };
        let len = u32::from_be_bytes(*len) as usize;
        let Some(data) = tail.get(..len) else {
            return Err(corrupt(
                SNAPPY,
                format!("xerial block of {len} bytes, only {} left", tail.len()),
            ));
        };
        block(data, &mut out)?;
        rest = &tail[len..];
    }
    Ok(out)
}

/// Test helper (feature `test-util`): the same batch with its records section compressed with
/// `codec` (1–4), attributes, batchLength and CRC updated. Snappy is written in the xerial
/// framing, as Kafka's Java producer does. Panics on a codec outside 1–4.
#[cfg(any(test, feature = "test-util"))]
pub fn compress_batch(batch: &[u8], codec: i16) -> Bytes {
    use super::batch::{ATTRIBUTES_OFFSET, CRC_OFFSET, LENGTH_OFFSET, LOG_OVERHEAD, compute_crc};
    use std::io::Write;
    let section = &batch[BATCH_HEADER_SIZE..];
    let compressed = match codec {
        GZIP => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(section).unwrap();
            e.finish().unwrap()
        }
        SNAPPY => {
            let mut enc = snap::raw::Encoder::new();
            let mut x = XERIAL_MAGIC.to_vec();
            x.extend_from_slice(&1i32.to_be_bytes());
            x.extend_from_slice(&1i32.to_be_bytes());
            for chunk in section.chunks(32 << 10) {
                let c = enc.compress_vec(chunk).unwrap();
                x.extend_from_slice(&(c.len() as u32).to_be_bytes());
                x.extend_from_slice(&c);
            }
            x
        }
        LZ4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(section).unwrap();
            e.finish().unwrap()
        }
        ZSTD => {
            ruzstd::encoding::compress_to_vec(section, ruzstd::encoding::CompressionLevel::Fastest)
        }
        _ => panic!("codec {codec}"),
    };
    let mut out = batch[..BATCH_HEADER_SIZE].to_vec();
    out.extend_from_slice(&compressed);
    let attributes = i16::from_be_bytes([out[ATTRIBUTES_OFFSET], out[ATTRIBUTES_OFFSET + 1]]);
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2]
        .copy_from_slice(&((attributes & !7) | codec).to_be_bytes());
    let len = (out.len() - LOG_OVERHEAD) as i32;
    out[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&len.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codec_is_unsupported() {
        for codec in 5..=7 {
            assert!(matches!(
                decompress(codec, codec, b"abc", 100),
                Err(Error::UnsupportedCompression { .. })
            ));
        }
    }

    #[test]
    fn xerial_and_raw_snappy_both_decode() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect();
        let mut enc = snap::raw::Encoder::new();
        let raw = enc.compress_vec(&data).unwrap();
        assert_eq!(
            &decompress(SNAPPY, 2, &raw, 1 << 20).unwrap()[..],
            &data[..]
        );
        // xerial: header, then blocks of at most 32 KiB of input each (snappy-java's default).
        let mut x = XERIAL_MAGIC.to_vec();
        x.extend_from_slice(&1i32.to_be_bytes());
        x.extend_from_slice(&1i32.to_be_bytes());
        for chunk in data.chunks(32 << 10) {
            let c = enc.compress_vec(chunk).unwrap();
            x.extend_from_slice(&(c.len() as u32).to_be_bytes());
            x.extend_from_slice(&c);
        }
        assert_eq!(&decompress(SNAPPY, 2, &x, 1 << 20).unwrap()[..], &data[..]);
        // Truncated inside the header or a block: an error, never a panic or a silently
        // short output. (Cut exactly after the header it is an empty stream.)
        for cut in [9, 15, 18, 21, 30, x.len() - 1] {
            assert!(
                decompress(SNAPPY, 2, &x[..cut], 1 << 20).is_err(),
                "cut at {cut}"
            );
        }
        // The cap applies across blocks.
        assert!(decompress(SNAPPY, 2, &x, data.len() - 1).is_err());
        assert!(decompress(SNAPPY, 2, &raw, data.len() - 1).is_err());
    }

    #[test]
    fn cap_stops_a_decompression_bomb() {
        // 16 MiB of zeros gzip to ~16 KiB.
        let zeros = vec![0u8; 16 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &zeros).unwrap();
        let gz = gz.finish().unwrap();
        assert!(gz.len() < 100_000);
        let err = decompress(GZIP, 1, &gz, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
        assert_eq!(decompress(GZIP, 1, &gz, 16 << 20).unwrap().len(), 16 << 20);
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        let inputs: [&[u8]; 5] = [
            b"",
            b"\x00",
            b"garbage that is no compressed stream at all",
            &[0xff; 64],
            b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xff",
        ];
        for codec in [GZIP, SNAPPY, LZ4, ZSTD] {
            for input in inputs {
                // Nothing may panic. b"" and b"\x00" may decode to nothing (a raw snappy
                // block of length 0 is valid); an empty records section with a non-zero
                // count is refused by the record parser.
                let r = decompress(codec, codec, input, 1 << 20);
                if input.len() > 1 {
                    assert!(r.is_err(), "codec {codec} accepted {input:?}");
                }
            }
        }
    }
}
