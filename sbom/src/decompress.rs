//! A layer blob as the tar stream inside it: gzip and zstd decompressed as they are read.

use std::io::{BufReader, Read};

/// Compressed bytes are read this much at a time, straight into the decompressor's input.
const INPUT_BUFFER: usize = 256 << 10;

/// `compressed` as an uncompressed tar stream, by the layer's media type. A gzip layer may hold
/// several members one after another, as container runtimes (Go's gzip reader) accept.
pub fn layer_stream<'a>(
    media_type: &str,
    compressed: impl Read + 'a,
) -> std::io::Result<Box<dyn Read + 'a>> {
    let buffered = BufReader::with_capacity(INPUT_BUFFER, compressed);
    Ok(if media_type.contains("gzip") {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if media_type.contains("zstd") {
        Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?)
    } else {
        Box::new(buffered)
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::layer_stream;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap_or_default();
        encoder.finish().unwrap_or_default()
    }

    #[test]
    fn every_member_of_a_gzip_layer_is_read() {
        let tar: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let members = [gzip(&tar[..70_000]), gzip(&tar[70_000..])].concat();
        let mut read = Vec::new();
        let stream = layer_stream("application/vnd.oci.image.layer.v1.tar+gzip", &members[..]);
        assert!(stream.and_then(|mut s| s.read_to_end(&mut read)).is_ok());
        assert_eq!(read, tar);
    }

    #[test]
    fn bytes_after_a_gzip_member_that_are_not_one_are_an_error() {
        let mut layer = gzip(b"tar bytes");
        layer.extend_from_slice(b"not a gzip member");
        let mut read = Vec::new();
        let stream = layer_stream("application/vnd.oci.image.layer.v1.tar+gzip", &layer[..]);
        assert!(stream.and_then(|mut s| s.read_to_end(&mut read)).is_err());
    }
}
