//! Content hashes: the first 16 bytes of BLAKE3.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 16-byte content hash, shown and serialised as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Hash([u8; 16]);

impl Hash {
    /// The hash of some content.
    pub(crate) fn of(bytes: &[u8]) -> Self {
        Self::truncate(blake3::hash(bytes))
    }

    /// The hash of a chain node: `H(parent || message blob)`, an absent parent
    /// counting as sixteen zero bytes.
    pub(crate) fn node(parent: Option<Hash>, blob: Hash) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(&parent.map_or([0; 16], |p| p.0));
        h.update(&blob.0);
        Self::truncate(h.finalize())
    }

    /// The raw 16 bytes.
    pub(crate) fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    fn truncate(h: blake3::Hash) -> Self {
        let mut out = [0; 16];
        out.copy_from_slice(&h.as_bytes()[..16]);
        Hash(out)
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", hex::encode(self.0))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0; 16];
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(Hash(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn node_hash_depends_on_parent_and_blob() {
        let a = Hash::of(b"a");
        let b = Hash::of(b"b");
        assert_ne!(Hash::node(None, a), Hash::node(None, b));
        assert_ne!(Hash::node(None, a), Hash::node(Some(b), a));
        assert_eq!(Hash::node(Some(b), a), Hash::node(Some(b), a));
    }

    #[test]
    fn serialises_as_hex_and_back() {
        let h = Hash::of(b"hello");
        let s = serde_json::to_string(&h).unwrap();
        assert_eq!(s.len(), 34);
        let back: Hash = serde_json::from_str(&s).unwrap();
        assert_eq!(back, h);
        assert!(serde_json::from_str::<Hash>("\"abc\"").is_err());
    }
}
