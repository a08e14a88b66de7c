//! Necessary conditions of a rule, per indexed field.
//!
//! A guard over-approximates the payments a condition can match on one
//! field: if a payment's value is outside the guard, the condition is false.
//! The router indexes rules by their guards, so a decision looks only at
//! rules that can match; the full condition is still evaluated on each.

use crate::ast::{Cond, FieldKind, Op, Val};

/// The values of one enumerated field for which a condition can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Guard<T> {
    /// No constraint known.
    Any,
    /// Only these values (sorted, unique), and a missing field when `missing`.
    Set { vals: Vec<T>, missing: bool },
}

impl<T: Ord + Clone> Guard<T> {
    fn and(self, other: Guard<T>) -> Guard<T> {
        match (self, other) {
            (Guard::Any, g) | (g, Guard::Any) => g,
            (
                Guard::Set {
                    vals: a,
                    missing: ma,
                },
                Guard::Set {
                    vals: b,
                    missing: mb,
                },
            ) => Guard::Set {
                vals: a
                    .into_iter()
                    .filter(|v| b.binary_search(v).is_ok())
                    .collect(),
                missing: ma && mb,
            },
        }
    }
    fn or(self, other: Guard<T>) -> Guard<T> {
        match (self, other) {
            (Guard::Any, _) | (_, Guard::Any) => Guard::Any,
            (
                Guard::Set {
                    vals: mut a,
                    missing: ma,
                },
                Guard::Set {
                    vals: b,
                    missing: mb,
                },
            ) => {
                a.extend(b);
                crate::sort::sort_dedup(&mut a);
                Guard::Set {
                    vals: a,
                    missing: ma || mb,
                }
            }
        }
    }
}

fn code(v: &Val) -> Option<u32> {
    match v {
        Val::Code(c) => Some(*c),
        Val::Bool(b) => Some(u32::from(*b)),
        _ => None,
    }
}

/// The guard of `c` on an enumerated field (currency, brand, country,
/// funding, capture method, booleans).
pub(crate) fn discrete(c: &Cond, kind: FieldKind) -> Guard<u32> {
    match c {
        Cond::Leaf(l) if l.field.kind == kind => {
            let set = |mut vals: Vec<u32>, missing| {
                crate::sort::sort_dedup(&mut vals);
                Guard::Set { vals, missing }
            };
            match &l.op {
                Op::Eq(v) => code(v).map_or(Guard::Any, |c| set(vec![c], false)),
                Op::In(vs) => {
                    let codes: Option<Vec<u32>> = vs.iter().map(code).collect();
                    codes.map_or(Guard::Any, |c| set(c, false))
                }
                Op::Exists(false) => set(Vec::new(), true),
                _ => Guard::Any,
            }
        }
        Cond::Leaf(_) | Cond::Not(..) => Guard::Any,
        Cond::All(cs) => cs.iter().fold(Guard::Any, |g, c| g.and(discrete(c, kind))),
        Cond::Any(cs) => {
            let mut it = cs.iter();
            let first = it.next().map_or(Guard::Any, |c| discrete(c, kind));
            it.fold(first, |g, c| g.or(discrete(c, kind)))
        }
    }
}

/// True when the condition holds only for payments in a known set of
/// currencies.
pub(crate) fn pins_currency(c: &Cond) -> bool {
    matches!(discrete(c, FieldKind::Currency), Guard::Set { .. })
}

/// The BIN prefixes for which `c` can hold (a payment's BIN must start with
/// one of them).
pub(crate) fn bin(c: &Cond) -> Guard<Box<str>> {
    match c {
        Cond::Leaf(l) if l.field.kind == FieldKind::CardBin => {
            let strs = |vs: &[Val]| -> Vec<Box<str>> {
                vs.iter()
                    .filter_map(|v| match v {
                        Val::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect()
            };
            let mut vals = match &l.op {
                Op::Eq(v) => strs(std::slice::from_ref(v)),
                Op::In(vs) => strs(vs),
                Op::Prefix(ps) => ps.clone(),
                Op::Exists(false) => Vec::new(),
                _ => return Guard::Any,
            };
            crate::sort::sort_dedup(&mut vals);
            Guard::Set {
                vals,
                missing: matches!(l.op, Op::Exists(false)),
            }
        }
        Cond::Leaf(_) | Cond::Not(..) => Guard::Any,
        // An intersection of prefix sets is a subset of either: keep the smaller.
        Cond::All(cs) => cs.iter().map(bin).fold(Guard::Any, |g, h| match (g, h) {
            (Guard::Any, x) | (x, Guard::Any) => x,
            (a @ Guard::Set { .. }, b @ Guard::Set { .. }) => {
                if set_len(&a) <= set_len(&b) {
                    a
                } else {
                    b
                }
            }
        }),
        Cond::Any(cs) => {
            let mut it = cs.iter();
            let first = it.next().map_or(Guard::Any, bin);
            it.fold(first, |g, c| g.or(bin(c)))
        }
    }
}

fn set_len<T>(g: &Guard<T>) -> usize {
    match g {
        Guard::Any => usize::MAX,
        Guard::Set { vals, .. } => vals.len(),
    }
}

/// Sorted, disjoint inclusive intervals of amounts for which `c` can hold;
/// `None` for no constraint.
pub(crate) fn amount(c: &Cond) -> Option<Vec<(u64, u64)>> {
    match c {
        Cond::Leaf(l) if l.field.kind == FieldKind::Amount => match &l.op {
            Op::Eq(Val::Int(v)) => Some(vec![(*v, *v)]),
            Op::In(vs) => {
                let pts: Vec<(u64, u64)> = vs
                    .iter()
                    .filter_map(|v| match v {
                        Val::Int(i) => Some((*i, *i)),
                        _ => None,
                    })
                    .collect();
                Some(normalise(pts))
            }
            Op::Range(lo, hi) if lo > hi => Some(Vec::new()),
            Op::Range(lo, hi) => Some(vec![(*lo, *hi)]),
            Op::Exists(false) => Some(Vec::new()),
            _ => None,
        },
        Cond::Leaf(_) | Cond::Not(..) => None,
        Cond::All(cs) => cs.iter().map(amount).fold(None, |g, h| match (g, h) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(intersect(&a, &b)),
        }),
        Cond::Any(cs) => {
            let mut acc = Vec::new();
            for c in cs {
                acc.extend(amount(c)?);
            }
            Some(normalise(acc))
        }
    }
}

fn normalise(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    crate::sort::sort(&mut v);
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(normalise(vec![(5, 9), (1, 3), (4, 4)]), vec![(1, 9)]);
        assert_eq!(
            intersect(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(5, 10), (20, 25)]
        );
    }
}
