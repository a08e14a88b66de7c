//! One small sort for the index's compile-time lists.
//!
//! The standard library's sorts are fast and large: each element type gets
//! its own few kilobytes of code (pattern-defeating quicksort, small-sort
//! networks), and the JS binding ships every copy. The index sorts a few
//! short lists once per rule set, where heapsort's O(n log n) with a few
//! hundred bytes of code is the better trade.

/// Sorts `v` ascending (not stable: equal elements are interchangeable
/// wherever this is used) and removes duplicates.
pub(crate) fn sort_dedup<T: Ord>(v: &mut Vec<T>) {
    sort(v);
    v.dedup();
}

/// Heapsort, ascending.
pub(crate) fn sort<T: Ord>(v: &mut [T]) {
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// Moves `v[root]` down the max-heap `v[..end]` to its place.
fn sift_down<T: Ord>(v: &mut [T], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && v[child] < v[child + 1] {
            child += 1;
        }
        if v[root] >= v[child] {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_as_the_standard_library(mut v in proptest::collection::vec(any::<(u8, u16)>(), 0..300)) {
            let mut want = v.clone();
            want.sort();
            sort(&mut v);
            prop_assert_eq!(&v, &want);
            want.dedup();
            sort_dedup(&mut v);
            prop_assert_eq!(v, want);
        }
    }
}
