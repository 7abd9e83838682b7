//! The shape of an RFC 6962 tree: level sizes and proof lengths.
//!
//! Levels are numbered by height: height 0 holds the `n` leaf hashes, and
//! level `h + 1` pairs level `h` left to right, carrying an odd last node up
//! unchanged. Level `h` then has `((n - 1) >> h) + 1` nodes, node `i` of it is
//! the Merkle Tree Hash of leaves `[i * 2^h, min((i + 1) * 2^h, n))`, and the
//! single node at height [`tree_height`] is RFC 6962's `MTH(D[n])`.

/// Height of the root of a tree of `size >= 1` leaves: `ceil(log2(size))`
/// (0 for a single leaf, which is its own root).
#[inline]
pub const fn tree_height(size: u64) -> u32 {
    if size <= 1 {
        0
    } else {
        u64::BITS - (size - 1).leading_zeros()
    }
}

/// Number of nodes at `height` in a tree of `size >= 1` leaves.
#[inline]
pub const fn level_len(size: u64, height: u32) -> u64 {
    if height >= u64::BITS {
        1
    } else {
        ((size - 1) >> height) + 1
    }
}

/// Largest power of two strictly below `n` (`n >= 2`): RFC 6962's split point `k`.
#[inline]
pub const fn split_point(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// Number of hashes in the inclusion proof (audit path) of leaf `index` in a
/// tree of `size` leaves (`index < size`).
#[inline]
pub const fn inclusion_proof_len(index: u64, size: u64) -> usize {
    path_len(index, size - 1)
}

/// Number of hashes in the consistency proof from `old_size` to `size`
/// (`0 < old_size <= size`).
#[inline]
pub const fn consistency_proof_len(old_size: u64, size: u64) -> usize {
    if old_size == size {
        return 0;
    }
    let (height, index) = consistency_start(old_size);
    let first = if index != 0 { 1 } else { 0 };
    first + path_len(index, (size - 1) >> height)
}

/// The node a consistency proof from `old_size` starts from: the largest
/// perfect subtree ending at leaf `old_size`, as `(height, index)`.
#[inline]
pub(crate) const fn consistency_start(old_size: u64) -> (u32, u64) {
    let height = old_size.trailing_zeros();
    (height, (old_size - 1) >> height)
}

/// Positions `(height, index)` of the siblings on the path from node
/// `(height, index)` to the root of a tree of `size` leaves, bottom-up: the
/// nodes of an audit path (RFC 9162 2.1.3.1 `PATH`), skipping the levels where
/// the node is carried up without a sibling.
pub(crate) fn path_siblings(
    height: u32,
    index: u64,
    size: u64,
) -> impl Iterator<Item = (u32, u64)> {
    let mut height = height;
    let mut index = index;
    let mut last = (size - 1) >> height;
    std::iter::from_fn(move || {
        while last > 0 {
            let (h, i) = (height, index);
            let sibling = if i & 1 == 1 {
                Some(i - 1)
            } else if i < last {
                Some(i + 1)
            } else {
                None
            };
            height += 1;
            index >>= 1;
            last >>= 1;
            if let Some(s) = sibling {
                return Some((h, s));
            }
        }
        None
    })
}

/// Siblings on the way from node `index` to the root of a level whose last
/// node is `last` (counting only siblings that exist: a carried node has none).
#[inline]
const fn path_len(mut index: u64, mut last: u64) -> usize {
    let mut count = 0;
    while last > 0 {
        if index & 1 == 1 || index < last {
            count += 1;
        }
        index >>= 1;
        last >>= 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162 2.1.3.1 PATH length, by recursion on the definition.
    fn rfc_path_len(m: u64, n: u64) -> usize {
        if n == 1 {
            return 0;
        }
        let k = split_point(n);
        if m < k {
            rfc_path_len(m, k) + 1
        } else {
            rfc_path_len(m - k, n - k) + 1
        }
    }

    /// RFC 9162 2.1.4.1 SUBPROOF length.
    fn rfc_subproof_len(m: u64, n: u64, complete: bool) -> usize {
        if m == n {
            return if complete { 0 } else { 1 };
        }
        let k = split_point(n);
        if m <= k {
            rfc_subproof_len(m, k, complete) + 1
        } else {
            rfc_subproof_len(m - k, n - k, false) + 1
        }
    }

    #[test]
    fn heights_and_levels() {
        assert_eq!(tree_height(1), 0);
        assert_eq!(tree_height(2), 1);
        assert_eq!(tree_height(3), 2);
        assert_eq!(tree_height(4), 2);
        assert_eq!(tree_height(5), 3);
        assert_eq!(tree_height(u64::MAX), 64);
        assert_eq!(level_len(5, 0), 5);
        assert_eq!(level_len(5, 1), 3);
        assert_eq!(level_len(5, 2), 2);
        assert_eq!(level_len(5, 3), 1);
        assert_eq!(level_len(u64::MAX, 64), 1);
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
    }

    #[test]
    fn proof_lengths_match_the_rfc_recursions() {
        for n in 1..=300u64 {
            for m in 0..n {
                assert_eq!(
                    inclusion_proof_len(m, n),
                    rfc_path_len(m, n),
                    "path {m} {n}"
                );
                assert_eq!(path_siblings(0, m, n).count(), inclusion_proof_len(m, n));
            }
            for m in 1..=n {
                let want = if m == n {
                    0
                } else {
                    rfc_subproof_len(m, n, true)
                };
                assert_eq!(consistency_proof_len(m, n), want, "consistency {m} {n}");
            }
        }
    }
}
