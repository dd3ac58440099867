//! How stored content is encoded: zstd when it is large enough, zstd with a
//! built-in dictionary when it is small (see [`super::dictionary`]), raw when
//! neither saves space.

use std::io::Read;

use super::dictionary;
use crate::error::StoreError;

/// Content at least this long is compressed.
pub(crate) const COMPRESS_MIN: usize = 512;
/// Content at least this long, and shorter than [`COMPRESS_MIN`], is
/// compressed with the dictionary; shorter content is kept raw.
const DICT_MIN: usize = 48;
/// zstd level: fast, and most of the gain on JSON text.
const ZSTD_LEVEL: i32 = 3;

/// Encoding of stored bytes; the number is what the database keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Raw = 0,
    Zstd = 1,
    /// zstd with version 1 of the built-in dictionary.
    ZstdDict = 2,
}

impl Codec {
    /// The stored number.
    pub(crate) fn id(self) -> i64 {
        self as i64
    }

    /// Reads a stored number.
    pub(crate) fn from_id(id: i64) -> Result<Self, StoreError> {
        match id {
            0 => Ok(Codec::Raw),
            1 => Ok(Codec::Zstd),
            2 => Ok(Codec::ZstdDict),
            other => Err(StoreError::corrupt(format!("unknown codec {other}"))),
        }
    }
}

/// Encodes content for storage, reusing its zstd contexts (setting one up
/// costs about as much as compressing a small blob).
pub(crate) struct Encoder {
    zstd: zstd::bulk::Compressor<'static>,
    /// Loaded with the dictionary, for small content.
    small: zstd::bulk::Compressor<'static>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").finish_non_exhaustive()
    }
}

impl Encoder {
    /// An encoder compressing at the store's zstd level.
    pub(crate) fn new() -> Result<Self, StoreError> {
        let zstd = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(zstd_error)?;
        let small = zstd::bulk::Compressor::with_prepared_dictionary(dictionary::encoder())
            .map_err(zstd_error)?;
        Ok(Encoder { zstd, small })
    }

    /// Encodes content for storage: zstd from [`COMPRESS_MIN`] bytes, zstd
    /// with the dictionary from [`DICT_MIN`] bytes, each only when it saves
    /// space; raw otherwise.
    pub(crate) fn encode(&mut self, raw: &[u8]) -> Result<(Codec, Vec<u8>), StoreError> {
        let (codec, packer) = match raw.len() {
            n if n >= COMPRESS_MIN => (Codec::Zstd, &mut self.zstd),
            n if n >= DICT_MIN => (Codec::ZstdDict, &mut self.small),
            _ => return Ok((Codec::Raw, raw.to_vec())),
        };
        let packed = packer.compress(raw).map_err(zstd_error)?;
        if packed.len() < raw.len() {
            return Ok((codec, packed));
        }
        Ok((Codec::Raw, raw.to_vec()))
    }
}

fn zstd_error(e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("zstd: {e}"))
}

/// Decodes stored content, checking it has the recorded raw size if one was kept.
pub(crate) fn decode(
    codec: Codec,
    data: Vec<u8>,
    size: Option<i64>,
) -> Result<Vec<u8>, StoreError> {
    let size = size
        .map(|s| u64::try_from(s).map_err(|_| StoreError::corrupt("negative size")))
        .transpose()?;
    let raw = match codec {
        Codec::Raw => data,
        Codec::Zstd | Codec::ZstdDict => {
            let mut out = Vec::new();
            let limit = size.map_or(u64::MAX, |s| s.saturating_add(1));
            let decoder = match codec {
                Codec::ZstdDict => zstd::stream::read::Decoder::with_prepared_dictionary(
                    &data[..],
                    dictionary::decoder(),
                ),
                _ => zstd::stream::read::Decoder::with_buffer(&data[..]),
            };
            decoder
                .and_then(|d| d.take(limit).read_to_end(&mut out))
                .map_err(|e| StoreError::corrupt(format!("zstd: {e}")))?;
            out
        }
    };
    let Some(size) = size else {
        return Ok(raw);
    };
    if raw.len() as u64 != size {
        return Err(StoreError::corrupt(format!(
            "content of {} bytes, expected {size}",
            raw.len()
        )));
    }
    Ok(raw)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn small_content_stays_raw_and_large_is_compressed() {
        let mut enc = Encoder::new().unwrap();
        let small = b"{\"role\":\"user\",\"content\":\"hi\"}";
        let (codec, data) = enc.encode(small).unwrap();
        assert_eq!(codec, Codec::Raw);
        assert_eq!(data, small);

        let large = "tool description ".repeat(100).into_bytes();
        let (codec, data) = enc.encode(&large).unwrap();
        assert_eq!(codec, Codec::Zstd);
        assert!(data.len() < large.len() / 4);
        let back = decode(codec, data.clone(), Some(large.len() as i64)).unwrap();
        assert_eq!(decode(codec, data, None).unwrap(), large);
        assert_eq!(back, large);

        // The reused context starts afresh for every piece of content.
        let other = "another text entirely ".repeat(50).into_bytes();
        let (codec, data) = enc.encode(&other).unwrap();
        assert_eq!(codec, Codec::Zstd);
        assert_eq!(data, zstd::bulk::compress(&other, ZSTD_LEVEL).unwrap());
        assert_eq!(
            decode(codec, data, Some(other.len() as i64)).unwrap(),
            other
        );
    }

    #[test]
    fn small_content_is_compressed_with_the_dictionary() {
        let mut enc = Encoder::new().unwrap();
        let skeleton = br#"{"object":{"body":{"model":"claude-sonnet-4-5-20250929","messages":null,"system":null,"tools":null,"metadata":{"user_id":"user_e3dafc25a1898f4a_session_1"},"max_tokens":32000,"stream":true},"refs":[{"chain":{"key":"messages","head":"e888b73e6cc9080aae14d336bc0bf192","len":99}},{"blob":{"key":"system","hash":"b882032db54eac7762ae190be96540e6"}},{"blob":{"key":"tools","hash":"0abf9f852cea9340d96760231da99a9a"}}]}}"#;
        let (codec, data) = enc.encode(skeleton).unwrap();
        assert_eq!(codec, Codec::ZstdDict);
        assert!(
            data.len() * 2 < skeleton.len(),
            "{} of {} bytes",
            data.len(),
            skeleton.len()
        );
        assert_eq!(decode(codec, data.clone(), None).unwrap(), skeleton);
        assert_eq!(
            decode(codec, data.clone(), Some(skeleton.len() as i64)).unwrap(),
            skeleton
        );
        // Without the dictionary the bytes do not decode.
        assert!(decode(Codec::Zstd, data, None).is_err());

        // Content the dictionary does not help stays raw.
        let noise: Vec<u8> = (0..100u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert_eq!(enc.encode(&noise).unwrap(), (Codec::Raw, noise.clone()));
        let tiny = b"{\"role\":\"user\"}";
        assert_eq!(enc.encode(tiny).unwrap(), (Codec::Raw, tiny.to_vec()));
    }

    #[test]
    fn decode_rejects_wrong_sizes_and_garbage() {
        let large = "x".repeat(2000).into_bytes();
        let (codec, data) = Encoder::new().unwrap().encode(&large).unwrap();
        assert!(decode(codec, data.clone(), Some(1999)).is_err());
        assert!(decode(codec, data, Some(2001)).is_err());
        assert!(decode(Codec::Zstd, b"not zstd".to_vec(), Some(10)).is_err());
        assert!(decode(Codec::Zstd, b"not zstd".to_vec(), None).is_err());
        assert!(decode(Codec::Raw, vec![], Some(-1)).is_err());
        assert!(Codec::from_id(7).is_err());
        assert_eq!(Codec::from_id(2).unwrap(), Codec::ZstdDict);
        assert!(decode(Codec::ZstdDict, b"not zstd".to_vec(), None).is_err());
        assert_eq!(Codec::from_id(1).unwrap(), Codec::Zstd);
    }
}
