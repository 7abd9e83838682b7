//! Subject keys: the fixed-size, uniformly distributed keys under which the
//! index files and the verifier look up an item code or a lot id.

use std::sync::OnceLock;

/// The BLAKE3 `derive_key` context string of the subject-key key.
pub const SUBJECT_KEY_CONTEXT: &str = "proofmark 2026-11-25 v1 subject key";

/// Length of a subject key in bytes.
pub const SUBJECT_KEY_LEN: usize = 16;

/// A subject key: the first 16 bytes of a keyed BLAKE3 hash.
pub type SubjectKey = [u8; SUBJECT_KEY_LEN];

/// What a subject identifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectType {
    /// An item's traceability code (the `code` column).
    Item,
    /// A production lot or shipment (the `lot_id` column).
    Lot,
}

impl SubjectType {
    /// The type's byte in the subject-key input.
    pub const fn code(self) -> u8 {
        match self {
            SubjectType::Item => 1,
            SubjectType::Lot => 2,
        }
    }

    /// The type's name in JSON (`item` or `lot`).
    pub const fn name(self) -> &'static str {
        match self {
            SubjectType::Item => "item",
            SubjectType::Lot => "lot",
        }
    }
}

/// The 32-byte BLAKE3 key for subject keys: `derive_key(SUBJECT_KEY_CONTEXT, "")`.
pub fn subject_hash_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| blake3::derive_key(SUBJECT_KEY_CONTEXT, b""))
}

/// The subject key of `id` (a code or a lot id): the first 16 bytes of
/// `BLAKE3-keyed(subject_hash_key, type byte || UTF-8 bytes of id)`.
pub fn subject_key(ty: SubjectType, id: &str) -> SubjectKey {
    let mut hasher = blake3::Hasher::new_keyed(subject_hash_key());
    hasher.update(&[ty.code()]);
    hasher.update(id.as_bytes());
    let mut key = [0u8; SUBJECT_KEY_LEN];
    key.copy_from_slice(&hasher.finalize().as_bytes()[..SUBJECT_KEY_LEN]);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_ids_are_separated() {
        assert_ne!(
            subject_key(SubjectType::Item, "A1"),
            subject_key(SubjectType::Lot, "A1")
        );
        assert_ne!(
            subject_key(SubjectType::Item, "A1"),
            subject_key(SubjectType::Item, "A2")
        );
        assert_eq!(
            subject_key(SubjectType::Item, "A1"),
            subject_key(SubjectType::Item, "A1")
        );
    }

    #[test]
    fn key_is_derived_from_the_published_context() {
        assert_eq!(
            subject_hash_key(),
            &blake3::derive_key(SUBJECT_KEY_CONTEXT, b"")
        );
    }
}
