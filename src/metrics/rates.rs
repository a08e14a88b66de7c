//! The authorization rates `auth_rate` routes by (docs/rules.md), from the
//! metrics store: the mode's attempts and authorizations over a window,
//! per processor, brand, card country and funding (summed over currencies
//! and rules). Pure: `edge/rates.rs` reads the rows and keeps the table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchyard_rules::{Brand, Count, Country, Funding, RateEntry, Rates};

use super::query::{self, Query};
use super::report::ShardAnswer;
use super::Dim;

/// The query of the rates over the last `window_s` seconds.
pub fn query(window_s: u64, now_ms: u64) -> Result<Query, crate::error::ApiError> {
    let text = format!("window={window_s}&group_by[]=brand&group_by[]=country&group_by[]=funding");
    query::parse(Some(&text), now_ms)
}

/// One row of the table, as `GET /v1/routing/rates` shows it and as a
/// preview takes it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub processor: String,
    pub brand: String,
    pub country: String,
    pub funding: String,
    pub attempts: u64,
    pub authorized: u64,
}

/// The rows of the metrics answers (grouped by `group`), summed per
/// processor, brand, country and funding; groups without attempts left out.
pub fn rows(group: &[Dim], parts: &[ShardAnswer]) -> Vec<Row> {
    let at = |d: Dim| group.iter().position(|g| *g == d);
    let (Some(p), Some(b), Some(c), Some(f)) = (
        at(Dim::Processor),
        at(Dim::Brand),
        at(Dim::Country),
        at(Dim::Funding),
    ) else {
        return Vec::new();
    };
    let mut sums: BTreeMap<[&str; 4], Count> = BTreeMap::new();
    for row in parts.iter().flat_map(|a| &a.groups) {
        let key = |i: usize| row.key.get(i).map_or("unknown", String::as_str);
        let n = sums.entry([key(p), key(b), key(c), key(f)]).or_default();
        n.attempts = n.attempts.saturating_add(row.counts.attempts);
        n.authorized = n.authorized.saturating_add(row.counts.authorized);
    }
    sums.into_iter()
        .filter(|(_, n)| n.attempts > 0)
        .map(|([processor, brand, country, funding], n)| Row {
            processor: processor.to_owned(),
            brand: brand.to_owned(),
            country: country.to_owned(),
            funding: funding.to_owned(),
            attempts: n.attempts,
            authorized: n.authorized.min(n.attempts),
        })
        .collect()
}

/// The engine's table of the rows. A value the engine does not know (a
/// brand a processor named that the engine has no range for) counts as
/// `unknown`, as the payment's own group would be.
pub fn table(rows: &[Row]) -> Rates {
    Rates::from_entries(rows.iter().map(|r| RateEntry {
        processor: r.processor.clone(),
        brand: Some(Brand::parse(&r.brand).unwrap_or(Brand::Unknown)),
        country: Some(Country::parse(&r.country)),
        funding: Some(Funding::parse(&r.funding).unwrap_or(Funding::Unknown)),
        count: Count {
            attempts: r.attempts,
            authorized: r.authorized,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::report::GroupRow;
    use crate::metrics::Counts;
    use switchyard_rules::{Group, Level};

    fn row(key: &[&str], attempts: u64, authorized: u64) -> GroupRow {
        GroupRow {
            key: key.iter().map(|s| (*s).to_owned()).collect(),
            t: None,
            counts: Counts {
                attempts,
                authorized,
                ..Counts::default()
            },
        }
    }

    #[test]
    fn rows_sum_over_currencies_and_feed_every_coarser_group() {
        let q = query(900, 10 * 60_000 * 60);
        assert!(q.is_ok());
        let Ok(q) = q else { return };
        let group = crate::metrics::report::group_of(&q);
        assert_eq!(
            group,
            vec![
                Dim::Processor,
                Dim::Brand,
                Dim::Country,
                Dim::Funding,
                Dim::Currency
            ]
        );
        let parts = vec![
            ShardAnswer {
                groups: vec![
                    row(&["stripe", "visa", "US", "credit", "usd"], 10, 9),
                    row(&["stripe", "visa", "US", "debit", "usd"], 5, 1),
                ],
            },
            ShardAnswer {
                groups: vec![
                    row(&["stripe", "visa", "US", "credit", "eur"], 10, 7),
                    row(&["adyen", "visa", "unknown", "unknown", "eur"], 4, 4),
                    row(&["adyen", "visa", "FR", "credit", "eur"], 0, 0),
                ],
            },
        ];
        let rows = rows(&group, &parts);
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert_eq!(
            rows.iter()
                .find(|r| r.processor == "stripe" && r.funding == "credit")
                .map(|r| (r.attempts, r.authorized)),
            Some((20, 16))
        );
        let t = table(&rows);
        let us_credit = Group::new(
            Some(Brand::Visa),
            Country::parse("US"),
            Some(Funding::Credit),
        );
        let c = |p: &str, l| t.count(p, us_credit, l);
        assert_eq!(c("stripe", Level::BrandCountryFunding).attempts, 20);
        assert_eq!(c("stripe", Level::BrandCountry).attempts, 25);
        assert_eq!(c("stripe", Level::All).authorized, 17);
        // the unknown country is its own group, and counts toward visa's
        let none = Group::new(Some(Brand::Visa), None, None);
        assert_eq!(
            t.count("adyen", none, Level::BrandCountryFunding).attempts,
            4
        );
        assert_eq!(t.count("adyen", us_credit, Level::Brand).attempts, 4);
        assert_eq!(t.count("adyen", us_credit, Level::BrandCountry).attempts, 0);
    }
}
