//! The runtime name of a suite and dispatch from it to generic code.

use std::fmt;
use std::str::FromStr;

use super::{Blake3, Hash, Sha256Rfc6962, Suite};

/// The runtime identifier of a hash suite, as written in manifests, proofs and
/// on the command line.
///
/// | variant | wire name | binary id |
/// | --- | --- | --- |
/// | [`SuiteId::Blake3`] | `blake3` | 1 |
/// | [`SuiteId::Sha256Rfc6962`] | `sha256-rfc6962` | 2 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SuiteId {
    /// BLAKE3 keyed hashes with the spec's leaf and node keys (the default).
    #[default]
    Blake3,
    /// SHA-256 with RFC 6962 prefixes: the Certificate Transparency tree hash.
    Sha256Rfc6962,
}

impl SuiteId {
    /// Every suite, in binary-id order.
    pub const ALL: [SuiteId; 2] = [SuiteId::Blake3, SuiteId::Sha256Rfc6962];

    /// The wire name (`"blake3"` or `"sha256-rfc6962"`).
    pub const fn name(self) -> &'static str {
        match self {
            SuiteId::Blake3 => Blake3::NAME,
            SuiteId::Sha256Rfc6962 => Sha256Rfc6962::NAME,
        }
    }

    /// The numeric id used in the binary proof encoding (1 or 2).
    pub const fn to_u8(self) -> u8 {
        match self {
            SuiteId::Blake3 => 1,
            SuiteId::Sha256Rfc6962 => 2,
        }
    }

    /// The suite with numeric id `id`, if there is one.
    pub const fn from_u8(id: u8) -> Option<SuiteId> {
        match id {
            1 => Some(SuiteId::Blake3),
            2 => Some(SuiteId::Sha256Rfc6962),
            _ => None,
        }
    }

    /// Calls `f` with this suite as its type parameter: the single runtime
    /// branch, after which everything runs monomorphised.
    ///
    /// ```
    /// use proofmark_merkle::{Hash, Suite, SuiteFn, SuiteId};
    ///
    /// struct LeafHash<'a>(&'a [u8]);
    /// impl SuiteFn for LeafHash<'_> {
    ///     type Output = Hash;
    ///     fn call<S: Suite>(self) -> Hash {
    ///         S::hash_leaf(self.0)
    ///     }
    /// }
    ///
    /// let h = SuiteId::Blake3.dispatch(LeafHash(b"abc"));
    /// assert_eq!(h, SuiteId::Blake3.hash_leaf(b"abc"));
    /// ```
    pub fn dispatch<F: SuiteFn>(self, f: F) -> F::Output {
        match self {
            SuiteId::Blake3 => f.call::<Blake3>(),
            SuiteId::Sha256Rfc6962 => f.call::<Sha256Rfc6962>(),
        }
    }

    /// The suite's leaf hash, chosen at run time (convenience; not for hot loops).
    pub fn hash_leaf(self, data: &[u8]) -> Hash {
        match self {
            SuiteId::Blake3 => Blake3::hash_leaf(data),
            SuiteId::Sha256Rfc6962 => Sha256Rfc6962::hash_leaf(data),
        }
    }

    /// The suite's node hash, chosen at run time (convenience; not for hot loops).
    pub fn hash_node(self, left: &Hash, right: &Hash) -> Hash {
        match self {
            SuiteId::Blake3 => Blake3::hash_node(left, right),
            SuiteId::Sha256Rfc6962 => Sha256Rfc6962::hash_node(left, right),
        }
    }
}

/// Generic code to run for a suite picked at run time; see [`SuiteId::dispatch`].
pub trait SuiteFn {
    /// What the call returns.
    type Output;
    /// Runs the code with `S` as the suite.
    fn call<S: Suite>(self) -> Self::Output;
}

impl fmt::Display for SuiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A suite name that is not `blake3` or `sha256-rfc6962`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash suite {name:?} (expected \"blake3\" or \"sha256-rfc6962\")")]
pub struct ParseSuiteError {
    /// The name that was given.
    pub name: String,
}

impl FromStr for SuiteId {
    type Err = ParseSuiteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SuiteId::ALL
            .into_iter()
            .find(|id| id.name() == s)
            .ok_or_else(|| ParseSuiteError { name: s.to_owned() })
    }
}

impl serde::Serialize for SuiteId {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for SuiteId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for id in SuiteId::ALL {
            assert_eq!(id.name().parse::<SuiteId>(), Ok(id));
            assert_eq!(id.to_string(), id.name());
            assert_eq!(SuiteId::from_u8(id.to_u8()), Some(id));
        }
        assert_eq!(SuiteId::Blake3.to_u8(), 1);
        assert_eq!(SuiteId::Sha256Rfc6962.to_u8(), 2);
        assert_eq!(SuiteId::from_u8(0), None);
        assert_eq!(SuiteId::from_u8(3), None);
        assert!("BLAKE3".parse::<SuiteId>().is_err());
        assert!("sha256".parse::<SuiteId>().is_err());
    }

    #[test]
    fn serde_uses_wire_names() {
        let json = serde_json::to_string(&SuiteId::Sha256Rfc6962).expect("serialise");
        assert_eq!(json, "\"sha256-rfc6962\"");
        let back: SuiteId = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, SuiteId::Sha256Rfc6962);
        assert!(serde_json::from_str::<SuiteId>("\"md5\"").is_err());
    }
}
