//! A layer blob as the tar stream inside it: gzip and zstd decompressed as they are read.

use std::io::Read;

/// `compressed` as an uncompressed tar stream, by the layer's media type.
pub fn layer_stream<'a>(
    media_type: &str,
    compressed: impl Read + 'a,
) -> std::io::Result<Box<dyn Read + 'a>> {
    Ok(if media_type.contains("gzip") {
        Box::new(flate2::read::GzDecoder::new(compressed))
    } else if media_type.contains("zstd") {
        Box::new(zstd::stream::read::Decoder::with_buffer(
            std::io::BufReader::with_capacity(1 << 20, compressed),
        )?)
    } else {
        Box::new(compressed)
    })
}
