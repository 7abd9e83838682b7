//! Hash suites: how leaves and interior nodes are hashed.
//!
//! A [`Suite`] is a zero-sized type chosen at compile time, so the hot loops
//! of tree building and verification are monomorphised and never branch on
//! the suite. [`SuiteId`] is its runtime name (CLI flags, manifests, proof
//! encodings); [`SuiteId::dispatch`] or [`with_suite!`](crate::with_suite)
//! turn it into a type parameter once, at the edge of the program.

mod blake3_suite;
mod id;
mod sha256_suite;

pub use blake3_suite::{
    Blake3, LEAF_KEY, LEAF_KEY_CONTEXT, NODE_KEY, NODE_KEY_CONTEXT, leaf_key, node_key,
};
pub use id::{ParseSuiteError, SuiteFn, SuiteId};
pub use sha256_suite::{LEAF_PREFIX, NODE_PREFIX, Sha256Rfc6962};

/// A 32-byte tree hash: a leaf hash, an interior node or a root.
pub type Hash = [u8; 32];

/// Length in bytes of a [`Hash`](type@Hash).
pub const HASH_LEN: usize = 32;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Blake3 {}
    impl Sealed for super::Sha256Rfc6962 {}
}

/// A tree hash suite: the leaf hash and the interior-node hash.
///
/// The suites are fixed by the spec, so the trait is sealed: the two
/// implementations are [`Blake3`] and [`Sha256Rfc6962`].
///
/// The batch methods have the same results as calling the single-item
/// methods in a loop; suites override them to hash several inputs at once
/// (BLAKE3 with SIMD across inputs).
pub trait Suite: sealed::Sealed + Send + Sync + 'static {
    /// Name on the wire (JSON proofs, manifests, CLI).
    const NAME: &'static str;
    /// Identifier in the binary proof encoding and in [`SuiteId`].
    const ID: SuiteId;

    /// Hash of one leaf's data.
    fn hash_leaf(data: &[u8]) -> Hash;

    /// Hash of an interior node from its left and right children.
    fn hash_node(left: &Hash, right: &Hash) -> Hash;

    /// Hashes `out.len()` interior nodes: `out[i] = hash_node(children[2i], children[2i + 1])`.
    ///
    /// # Panics
    ///
    /// If `children.len() != 2 * out.len()`.
    fn hash_nodes(children: &[Hash], out: &mut [Hash]) {
        assert_eq!(
            children.len(),
            2 * out.len(),
            "hash_nodes: children must be 2 * out"
        );
        for (pair, slot) in children.chunks_exact(2).zip(out.iter_mut()) {
            *slot = Self::hash_node(&pair[0], &pair[1]);
        }
    }

    /// Hashes `out.len()` leaves of `len` bytes each, stored back to back in `data`:
    /// `out[i] = hash_leaf(&data[i * len..(i + 1) * len])`.
    ///
    /// # Panics
    ///
    /// If `data.len() != len * out.len()`.
    fn hash_leaves_same_len(data: &[u8], len: usize, out: &mut [Hash]) {
        assert_eq!(
            data.len(),
            len * out.len(),
            "hash_leaves_same_len: data must be len * out"
        );
        if len == 0 {
            out.fill(Self::hash_leaf(&[]));
            return;
        }
        for (record, slot) in data.chunks_exact(len).zip(out.iter_mut()) {
            *slot = Self::hash_leaf(record);
        }
    }
}

/// Runs `$body` with the type alias `$S` bound to the [`Suite`] named by the
/// [`SuiteId`] `$id`: the one runtime branch, taken at the edge of the program.
///
/// ```
/// use proofmark_merkle::{Suite, SuiteId, with_suite};
///
/// let id: SuiteId = "sha256-rfc6962".parse()?;
/// let leaf = with_suite!(id, S => S::hash_leaf(b"record"));
/// assert_eq!(leaf, proofmark_merkle::Sha256Rfc6962::hash_leaf(b"record"));
/// # Ok::<(), proofmark_merkle::ParseSuiteError>(())
/// ```
#[macro_export]
macro_rules! with_suite {
    ($id:expr, $S:ident => $body:expr) => {
        match $id {
            $crate::SuiteId::Blake3 => {
                type $S = $crate::Blake3;
                $body
            }
            $crate::SuiteId::Sha256Rfc6962 => {
                type $S = $crate::Sha256Rfc6962;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults_match<S: Suite>() {
        let children: Vec<Hash> = (0u8..10).map(|i| [i; 32]).collect();
        let mut out = vec![[0u8; 32]; 5];
        S::hash_nodes(&children, &mut out);
        for i in 0..5 {
            assert_eq!(out[i], S::hash_node(&children[2 * i], &children[2 * i + 1]));
        }
        for len in [0usize, 1, 63, 64, 65, 128, 1024, 1025] {
            let data: Vec<u8> = (0..len * 7).map(|i| (i % 251) as u8).collect();
            let mut out = vec![[0u8; 32]; 7];
            S::hash_leaves_same_len(&data, len, &mut out);
            for (i, h) in out.iter().enumerate() {
                assert_eq!(*h, S::hash_leaf(&data[i * len..(i + 1) * len]), "len {len}");
            }
        }
    }

    #[test]
    fn batch_methods_agree_with_single_methods() {
        defaults_match::<Blake3>();
        defaults_match::<Sha256Rfc6962>();
    }

    #[test]
    fn macro_dispatches_to_the_named_suite() {
        for id in SuiteId::ALL {
            let name = with_suite!(id, S => S::NAME);
            assert_eq!(name, id.name());
            let sid = with_suite!(id, S => S::ID);
            assert_eq!(sid, id);
        }
    }
}
