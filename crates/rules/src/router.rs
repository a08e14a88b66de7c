//! The compiled rule set: decide, explain and simulate.
//!
//! Architecture Invariant: `decide` and `explain` return the same decision
//! for every payment. `decide` looks only at the rules the index admits;
//! `explain` walks every rule in order to build the trace.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ast::*;
use crate::guard::{self, Guard};
use crate::hash::{fnv1a, splitmix64};
use crate::issue::{Issue, Issues, ValidateOptions};
use crate::payment::{Fact, Payment};
use crate::rates::{name_hash, Count, Group, Level, Rates, NO_RATES};

/// A compiled rule set, built once and used for many decisions.
#[derive(Debug)]
pub struct Router {
    name: Option<String>,
    rules: Vec<CRule>,
    default: CAction,
    processors: Vec<String>,
    /// Each processor's `rates::name_hash`, to find it in a rate table.
    processor_hashes: Vec<u64>,
    index: Option<Index>,
    /// The metadata keys any rule reads, sorted.
    metadata_keys: Vec<Box<str>>,
}

#[derive(Debug)]
struct CRule {
    name: String,
    cond: Option<Cond>,
    action: CAction,
    enabled: bool,
}

/// Processors are interned: an action holds indices into `Router::processors`.
#[derive(Debug)]
enum CAction {
    Route(Vec<u16>),
    Split {
        entries: Vec<u16>,
        /// Running sums of the weights, in the order written (u128: any
        /// number of u64 weights adds up without overflow).
        cumulative: Vec<u128>,
        fallback: Vec<u16>,
    },
    Decline {
        code: String,
        message: Option<String>,
    },
    AuthRate {
        candidates: Vec<u16>,
        explore_ppm: u32,
        min_sample: u64,
        fallback: Vec<u16>,
    },
}

impl Router {
    /// Parses, validates and compiles rule-set JSON text.
    pub fn from_json_str(text: &str, opts: &ValidateOptions) -> Result<Router, Vec<Issue>> {
        let v = crate::read_json(text).map_err(|i| vec![i])?;
        Router::from_value(&v, opts)
    }

    /// Validates and compiles a rule set given as JSON.
    pub fn from_value(v: &Value, opts: &ValidateOptions) -> Result<Router, Vec<Issue>> {
        let mut out = Issues::default();
        match crate::parse::parse_ruleset(v, opts, &mut out) {
            Some(rs) if out.errors.is_empty() => Ok(Router::compile(rs)),
            _ => Err(out.errors),
        }
    }

    /// Compiles a validated rule set.
    pub fn compile(rs: RuleSet) -> Router {
        let mut processors: Vec<String> = Vec::new();
        let mut intern = |p: String| -> u16 {
            match processors.iter().position(|q| *q == p) {
                Some(i) => i as u16,
                None => {
                    processors.push(p);
                    (processors.len() - 1) as u16
                }
            }
        };
        let mut action = |a: Action| match a {
            Action::Route(ps) => CAction::Route(ps.into_iter().map(&mut intern).collect()),
            Action::Split { entries, fallback } => {
                let mut sum = 0u128;
                let cumulative = entries
                    .iter()
                    .map(|(_, w)| {
                        sum += u128::from(*w);
                        sum
                    })
                    .collect();
                CAction::Split {
                    entries: entries.into_iter().map(|(p, _)| intern(p)).collect(),
                    cumulative,
                    fallback: fallback.into_iter().map(&mut intern).collect(),
                }
            }
            Action::Decline { code, message } => CAction::Decline { code, message },
            Action::AuthRate {
                processors,
                explore_ppm,
                min_sample,
                fallback,
            } => CAction::AuthRate {
                candidates: processors.into_iter().map(&mut intern).collect(),
                explore_ppm,
                min_sample,
                fallback: fallback.into_iter().map(&mut intern).collect(),
            },
        };
        let rules: Vec<CRule> = rs
            .rules
            .into_iter()
            .map(|r| CRule {
                name: r.name,
                cond: r.cond,
                action: action(r.action),
                enabled: r.enabled,
            })
            .collect();
        let default = action(rs.default);
        let index = (rules.len() > INDEX_FROM).then(|| Index::build(&rules));
        let mut metadata_keys = Vec::new();
        for c in rules.iter().filter_map(|r| r.cond.as_ref()) {
            metadata_keys_of(c, &mut metadata_keys);
        }
        crate::sort::sort_dedup(&mut metadata_keys);
        let processor_hashes = processors.iter().map(|p| name_hash(p)).collect();
        Router {
            name: rs.name,
            rules,
            default,
            processors,
            processor_hashes,
            index,
            metadata_keys,
        }
    }

    /// True when some rule reads `metadata.KEY`.
    pub fn reads_metadata(&self, key: &str) -> bool {
        self.metadata_keys
            .binary_search_by(|k| (**k).cmp(key))
            .is_ok()
    }

    /// The metadata keys any rule reads, sorted: the only metadata a
    /// decision depends on.
    pub fn metadata_keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.metadata_keys.iter().map(|k| &**k)
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The decision of a rule (`None`: the default) with a split's or an
    /// auth_rate's pick given by position (what `Verdict::pick_index`
    /// reports): the binding's fast route caches these by (rule, pick).
    pub fn decision_at(&self, rule: Option<usize>, pick: Option<usize>) -> Option<Decision> {
        let action = match rule {
            Some(i) => &self.rules.get(i)?.action,
            None => &self.default,
        };
        let v = Verdict {
            router: self,
            rule,
            action,
            pick: match action {
                CAction::Split { entries, .. } => {
                    Some((pick.filter(|p| *p < entries.len())?, 0, 0))
                }
                _ => None,
            },
            chose: match action {
                CAction::AuthRate { candidates, .. } => Some((
                    Choice {
                        index: pick.filter(|p| *p < candidates.len())?,
                        reason: Reason::BestRate,
                        roll: None,
                    },
                    Group::new(None, None, None),
                )),
                _ => None,
            },
            rates: &NO_RATES,
        };
        Some(v.to_decision())
    }

    /// Every processor id the rule set names, in order of first mention.
    pub fn processors(&self) -> &[String] {
        &self.processors
    }

    /// The hot path: the deciding rule and plan, borrowed, with no trace and
    /// no allocation.
    pub fn select<'a>(&'a self, p: &Payment, routing_key: &str) -> Verdict<'a> {
        self.select_with(p, routing_key, &NO_RATES)
    }

    /// The hot path, with the authorization rates `auth_rate` reads.
    pub fn select_with<'a>(
        &'a self,
        p: &Payment,
        routing_key: &str,
        rates: &'a Rates,
    ) -> Verdict<'a> {
        let rule = match &self.index {
            Some(ix) => ix.first_match(&self.rules, p),
            None => self
                .rules
                .iter()
                .position(|r| r.enabled && r.cond.as_ref().is_none_or(|c| holds(c, p))),
        };
        self.verdict(rule, p, routing_key, rates)
    }

    fn verdict<'a>(
        &'a self,
        rule: Option<usize>,
        p: &Payment,
        routing_key: &str,
        rates: &'a Rates,
    ) -> Verdict<'a> {
        let action = match rule {
            Some(i) => &self.rules[i].action,
            None => &self.default,
        };
        let mut chose = None;
        let pick = match action {
            CAction::Split { cumulative, .. } => {
                let total = cumulative.last().copied().unwrap_or(1).max(1);
                let bucket = u128::from(split_hash(routing_key)) % total;
                let entry = cumulative.partition_point(|&c| c <= bucket);
                let sat = |x: u128| u64::try_from(x).unwrap_or(u64::MAX);
                Some((
                    entry.min(cumulative.len().saturating_sub(1)),
                    sat(bucket),
                    sat(total),
                ))
            }
            CAction::AuthRate {
                candidates,
                explore_ppm,
                min_sample,
                ..
            } => {
                let group = Group::of(p);
                let c = self.choose(
                    candidates,
                    *explore_ppm,
                    *min_sample,
                    rates,
                    group,
                    routing_key,
                );
                chose = Some((c, group));
                None
            }
            _ => None,
        };
        Verdict {
            router: self,
            rule,
            action,
            pick,
            chose,
            rates,
        }
    }

    /// `auth_rate`'s choice (docs/rules.md): the best rated candidate,
    /// another one for an exploring share of routing keys, or the first
    /// listed when none has `min_sample` attempts.
    fn choose(
        &self,
        candidates: &[u16],
        explore_ppm: u32,
        min_sample: u64,
        rates: &Rates,
        group: Group,
        routing_key: &str,
    ) -> Choice {
        let mut best: Option<(usize, Count)> = None;
        for (i, c) in candidates.iter().enumerate() {
            let i_c = usize::from(*c);
            let (Some(name), Some(hash)) =
                (self.processors.get(i_c), self.processor_hashes.get(i_c))
            else {
                continue;
            };
            if let Some((_, n)) = rates.rated_hashed(*hash, name, group, min_sample) {
                if best.is_none_or(|(_, b)| n.beats(b)) {
                    best = Some((i, n));
                }
            }
        }
        let Some((best, _)) = best else {
            return Choice {
                index: 0,
                reason: Reason::MinSample,
                roll: None,
            };
        };
        if candidates.len() < 2 || explore_ppm == 0 {
            return Choice {
                index: best,
                reason: Reason::BestRate,
                roll: None,
            };
        }
        let (roll, other) = explore_hash(routing_key);
        let roll = (roll % EXPLORE_SCALE) as u32;
        if roll >= explore_ppm {
            return Choice {
                index: best,
                reason: Reason::BestRate,
                roll: Some(roll),
            };
        }
        // One of the others, evenly: skip over the best.
        let others = (candidates.len() - 1) as u64;
        let k = (other % others) as usize;
        Choice {
            index: if k >= best { k + 1 } else { k },
            reason: Reason::Explored,
            roll: Some(roll),
        }
    }

    /// The decision, without trace.
    pub fn decide(&self, p: &Payment, routing_key: &str) -> Decision {
        self.select(p, routing_key).to_decision()
    }

    /// The decision, without trace, with authorization rates.
    pub fn decide_with(&self, p: &Payment, routing_key: &str, rates: &Rates) -> Decision {
        self.select_with(p, routing_key, rates).to_decision()
    }

    /// The decision with its trace: every rule looked at, in order.
    pub fn explain(&self, p: &Payment, routing_key: &str) -> Decision {
        self.explain_with(p, routing_key, &NO_RATES)
    }

    /// The decision with its trace, with authorization rates.
    pub fn explain_with(&self, p: &Payment, routing_key: &str, rates: &Rates) -> Decision {
        let mut trace = Vec::new();
        let mut decided = None;
        for (i, r) in self.rules.iter().enumerate() {
            let mut entry = TraceEntry {
                rule_index: Some(i),
                rule: Some(r.name.clone()),
                default: false,
                matched: false,
                disabled: !r.enabled,
                failed: None,
                split: None,
                auth_rate: None,
            };
            if r.enabled {
                match r.cond.as_ref().map_or(Ok(()), |c| why_not(c, p)) {
                    Ok(()) => entry.matched = true,
                    Err(f) => entry.failed = Some(*f),
                }
            }
            let matched = entry.matched;
            trace.push(entry);
            if matched {
                decided = Some(i);
                break;
            }
        }
        if decided.is_none() {
            trace.push(TraceEntry {
                rule_index: None,
                rule: None,
                default: true,
                matched: true,
                disabled: false,
                failed: None,
                split: None,
                auth_rate: None,
            });
        }
        let verdict = self.verdict(decided, p, routing_key, rates);
        // How a split or an auth_rate picked belongs to the explanation of
        // the entry that decided (the Decision itself has only the keys of
        // rules.md).
        if let Some(last) = trace.last_mut() {
            last.split = verdict.split();
            last.auth_rate = verdict.auth_rate();
        }
        let mut d = verdict.to_decision();
        d.trace = Some(trace);
        d
    }

    /// Adds one payment's decision to a tally.
    pub fn tally(&self, t: &mut Tally, p: &Payment, routing_key: &str, rates: &Rates) {
        if t.by_rule.len() != self.rules.len() || t.by_processor.len() != self.processors.len() {
            t.by_rule = vec![0; self.rules.len()];
            t.by_processor = vec![0; self.processors.len()];
        }
        let v = self.select_with(p, routing_key, rates);
        t.total += 1;
        match v.rule.and_then(|i| t.by_rule.get_mut(i)) {
            Some(n) => *n += 1,
            None => t.default += 1,
        }
        match v
            .first_processor()
            .and_then(|i| t.by_processor.get_mut(usize::from(i)))
        {
            Some(n) => *n += 1,
            None => t.declined += 1,
        }
    }

    /// Decides every payment (routing key: the payment's own, else its
    /// position in the list) and counts the outcomes.
    pub fn simulate<'p, I>(&self, payments: I, rates: &Rates) -> Simulation
    where
        I: IntoIterator<Item = &'p Payment>,
    {
        let mut t = Tally::default();
        for (i, p) in payments.into_iter().enumerate() {
            match p.routing_key() {
                Some(k) => self.tally(&mut t, p, k, rates),
                None => self.tally(&mut t, p, &i.to_string(), rates),
            }
        }
        t.finish(self)
    }
}

fn metadata_keys_of(c: &Cond, out: &mut Vec<Box<str>>) {
    match c {
        Cond::Leaf(l) => out.extend(l.field.key.iter().cloned()),
        Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| metadata_keys_of(c, out)),
        Cond::Not(c, _) => metadata_keys_of(c, out),
    }
}

/// Below this many rules a linear scan beats the index.
const INDEX_FROM: usize = 16;

/// The split hash of rules.md: the first 8 bytes of SHA-256 of the routing
/// key, big-endian.
pub fn split_hash(routing_key: &str) -> u64 {
    let digest = Sha256::digest(routing_key.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

/// The scale of `auth_rate`'s exploration roll: millionths.
const EXPLORE_SCALE: u64 = 1_000_000;

/// `auth_rate`'s two draws from the routing key (docs/rules.md): the first
/// two outputs of SplitMix64 seeded with the 64-bit FNV-1a hash of the
/// key's UTF-8 bytes. Cheap (the split's SHA-256 would be most of the
/// decision's time) and well spread for keys that differ in a character.
pub fn explore_hash(routing_key: &str) -> (u64, u64) {
    let mut state = fnv1a(routing_key.as_bytes());
    let roll = splitmix64(&mut state);
    (roll, splitmix64(&mut state))
}

/// Why `auth_rate` picked what it picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The best rate among the candidates with enough attempts.
    BestRate,
    /// This routing key falls in the exploration share: another candidate.
    Explored,
    /// No candidate has `min_sample` attempts: the first listed.
    MinSample,
}

#[derive(Clone, Copy, Debug)]
struct Choice {
    /// The candidate picked (its position in the list).
    index: usize,
    reason: Reason,
    /// The exploration roll, when one was drawn.
    roll: Option<u32>,
}

/// A decision borrowed from the router: what the hot path returns.
#[derive(Clone, Copy)]
pub struct Verdict<'a> {
    router: &'a Router,
    rule: Option<usize>,
    action: &'a CAction,
    /// For a split: (entry picked, bucket, total weight).
    pick: Option<(usize, u64, u64)>,
    /// For an auth_rate: its choice and the payment's group.
    chose: Option<(Choice, Group)>,
    rates: &'a Rates,
}

impl<'a> Verdict<'a> {
    pub fn rule_index(&self) -> Option<usize> {
        self.rule
    }
    pub fn rule_name(&self) -> Option<&'a str> {
        self.rule.map(|i| self.router.rules[i].name.as_str())
    }
    pub fn is_decline(&self) -> bool {
        matches!(self.action, CAction::Decline { .. })
    }
    /// The decline code and message, for a decline.
    pub fn decline(&self) -> Option<(&'a str, Option<&'a str>)> {
        match self.action {
            CAction::Decline { code, message } => Some((code, message.as_deref())),
            _ => None,
        }
    }
    fn first_processor(&self) -> Option<u16> {
        match (self.action, self.pick, self.chose) {
            (CAction::Route(ps), _, _) => ps.first().copied(),
            (CAction::Split { entries, .. }, Some((e, _, _)), _) => entries.get(e).copied(),
            (CAction::AuthRate { candidates, .. }, _, Some((c, _))) => {
                candidates.get(c.index).copied()
            }
            _ => None,
        }
    }
    /// The attempt plan, in order.
    pub fn processors(&self) -> impl Iterator<Item = &'a str> + 'a {
        let names = &self.router.processors;
        self.processor_ids()
            .filter_map(move |i| names.get(usize::from(i)).map(String::as_str))
    }
    /// Which split entry or auth_rate candidate was picked, by position.
    pub fn pick_index(&self) -> Option<usize> {
        match (self.pick, self.chose) {
            (Some((e, _, _)), _) => Some(e),
            (_, Some((c, _))) => Some(c.index),
            _ => None,
        }
    }
    /// The attempt plan as positions in [`Router::processors`] (what the
    /// binding's fast route hands back instead of names).
    pub fn processor_ids(&self) -> impl Iterator<Item = u16> + 'a {
        let (head, tail): (Option<u16>, &'a [u16]) = match (self.action, self.pick) {
            (CAction::Route(ps), _) => (None, ps.as_slice()),
            (
                CAction::Split {
                    entries, fallback, ..
                },
                Some((e, _, _)),
            ) => (entries.get(e).copied(), fallback.as_slice()),
            (CAction::AuthRate { fallback, .. }, _) => {
                (self.first_processor(), fallback.as_slice())
            }
            _ => (None, &[]),
        };
        head.into_iter()
            .chain(tail.iter().copied().filter(move |p| Some(*p) != head))
    }
    /// How a split picked, when a split decided.
    pub fn split(&self) -> Option<SplitInfo> {
        match (self.action, self.pick) {
            (CAction::Split { entries, .. }, Some((e, bucket, total))) => Some(SplitInfo {
                picked: entries
                    .get(e)
                    .and_then(|i| self.router.processors.get(usize::from(*i)))
                    .cloned()
                    .unwrap_or_default(),
                bucket,
                total_weight: total,
            }),
            _ => None,
        }
    }

    /// How an auth_rate picked, when one decided: the rates it saw.
    pub fn auth_rate(&self) -> Option<AuthRateInfo> {
        let (
            CAction::AuthRate {
                candidates,
                explore_ppm,
                min_sample,
                ..
            },
            Some((choice, group)),
        ) = (self.action, self.chose)
        else {
            return None;
        };
        let names = &self.router.processors;
        let name = |i: &u16| names.get(usize::from(*i)).cloned().unwrap_or_default();
        let seen = candidates
            .iter()
            .map(|c| {
                let p = name(c);
                match self.rates.rated(&p, group, *min_sample) {
                    Some((level, n)) => RateSeen {
                        processor: p,
                        group: Some(level),
                        attempts: n.attempts,
                        authorized: n.authorized,
                        rate: n.rate(),
                    },
                    None => {
                        let n = self.rates.count(&p, group, Level::All);
                        RateSeen {
                            processor: p,
                            group: None,
                            attempts: n.attempts,
                            authorized: n.authorized,
                            rate: None,
                        }
                    }
                }
            })
            .collect();
        Some(AuthRateInfo {
            picked: candidates.get(choice.index).map(name).unwrap_or_default(),
            reason: choice.reason,
            explored: choice.reason == Reason::Explored,
            explore: f64::from(*explore_ppm) / EXPLORE_SCALE as f64,
            roll: choice.roll,
            min_sample: *min_sample,
            candidates: seen,
        })
    }

    pub fn to_decision(&self) -> Decision {
        let decline = self.decline().map(|(code, message)| DeclineInfo {
            code: code.to_owned(),
            message: message.map(str::to_owned),
        });
        Decision {
            action: if decline.is_some() {
                DecisionAction::Decline
            } else {
                DecisionAction::Route
            },
            processors: self.processors().map(str::to_owned).collect(),
            rule: self.rule_name().map(str::to_owned),
            rule_index: self.rule,
            decline,
            trace: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionAction {
    Route,
    Decline,
}

/// A decision (rules.md, Decision; docs/engine.md for the details).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub action: DecisionAction,
    pub processors: Vec<String>,
    pub rule: Option<String>,
    pub rule_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline: Option<DeclineInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<TraceEntry>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclineInfo {
    pub code: String,
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SplitInfo {
    pub picked: String,
    #[serde(serialize_with = "exact_integer")]
    pub bucket: u64,
    #[serde(serialize_with = "exact_integer")]
    pub total_weight: u64,
}

/// How an `auth_rate` action picked (docs/engine.md): on the deciding trace
/// entry, and on a worker's payment as `routing.auth_rate`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct AuthRateInfo {
    pub picked: String,
    pub reason: Reason,
    pub explored: bool,
    /// The exploration share configured.
    pub explore: f64,
    /// The exploration roll in millionths (explored when below `explore`),
    /// when one was drawn.
    pub roll: Option<u32>,
    #[serde(serialize_with = "exact_integer")]
    pub min_sample: u64,
    /// Each candidate in the order written, with the rate it was judged by.
    pub candidates: Vec<RateSeen>,
}

// Its numbers are never NaN (a rate is taken of attempts > 0; explore is a
// share of millionths): equality is total.
impl Eq for AuthRateInfo {}

/// A candidate's rate as `auth_rate` saw it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct RateSeen {
    pub processor: String,
    /// The group the rate is from (`brand_country_funding`, `brand_country`,
    /// `brand`, `all`); `null` when no group has `min_sample` attempts.
    pub group: Option<Level>,
    /// Sums of entries: may pass 2^53 - 1 (then a BigInt in JavaScript).
    #[serde(serialize_with = "exact_integer")]
    pub attempts: u64,
    #[serde(serialize_with = "exact_integer")]
    pub authorized: u64,
    pub rate: Option<f64>,
}

impl Eq for RateSeen {}

/// An integer that stays exact everywhere: a JSON number, and in
/// JavaScript a Number up to 2^53 - 1, a BigInt past it.
fn exact_integer<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    if *v <= crate::values::MinorUnits::MAX {
        s.serialize_u64(*v)
    } else {
        s.serialize_u128(u128::from(*v))
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceEntry {
    pub rule_index: Option<usize>,
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub default: bool,
    pub matched: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Failure>,
    /// On the entry that decided, when a split picked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitInfo>,
    /// On the entry that decided, when an auth_rate picked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_rate: Option<AuthRateInfo>,
}

/// The first condition that did not hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
}

/// Counts of a simulation in progress.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    total: u64,
    declined: u64,
    default: u64,
    by_rule: Vec<u64>,
    by_processor: Vec<u64>,
}

impl Tally {
    pub fn finish(&self, r: &Router) -> Simulation {
        let mut by_processor = BTreeMap::new();
        for (i, n) in self.by_processor.iter().enumerate() {
            if *n > 0 {
                if let Some(name) = r.processors.get(i) {
                    by_processor.insert(name.clone(), *n);
                }
            }
        }
        let mut by_rule = BTreeMap::new();
        for (i, n) in self.by_rule.iter().enumerate() {
            if *n > 0 {
                if let Some(rule) = r.rules.get(i) {
                    by_rule.insert(rule.name.clone(), *n);
                }
            }
        }
        Simulation {
            total: self.total,
            declined: self.declined,
            by_processor,
            by_rule,
            default: self.default,
        }
    }
}

/// The outcome of `simulate` (js.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Simulation {
    pub total: u64,
    pub declined: u64,
    /// The first processor of each plan.
    pub by_processor: BTreeMap<String, u64>,
    pub by_rule: BTreeMap<String, u64>,
    pub default: u64,
}

// ---------------------------------------------------------------- evaluation

pub(crate) fn holds(c: &Cond, p: &Payment) -> bool {
    match c {
        Cond::Leaf(l) => leaf_holds(l, p),
        Cond::All(cs) => cs.iter().all(|c| holds(c, p)),
        Cond::Any(cs) => cs.iter().any(|c| holds(c, p)),
        Cond::Not(c, _) => !holds(c, p),
    }
}

fn leaf_holds(l: &Leaf, p: &Payment) -> bool {
    let Some(f) = p.fact(&l.field) else {
        return matches!(l.op, Op::Exists(false));
    };
    let bin = l.field.kind == FieldKind::CardBin;
    match &l.op {
        Op::Exists(b) => *b,
        Op::Eq(v) => same(f, v, bin),
        Op::Ne(v) => !same(f, v, bin),
        Op::In(vs) => vs.iter().any(|v| same(f, v, bin)),
        Op::NotIn(vs) => !vs.iter().any(|v| same(f, v, bin)),
        Op::Range(lo, hi) => matches!(f, Fact::Int(x) if *lo <= x && x <= *hi),
        Op::Prefix(ps) => matches!(f, Fact::Str(s) if ps.iter().any(|p| s.starts_with(&**p))),
    }
}

/// Equality; a BIN is cut to the compared value's length (rules.md).
fn same(f: Fact<'_>, v: &Val, bin: bool) -> bool {
    match (f, v) {
        (Fact::Int(a), Val::Int(b)) => a == *b,
        (Fact::Code(a), Val::Code(b)) => a == *b,
        (Fact::Bool(a), Val::Bool(b)) => a == *b,
        (Fact::Str(a), Val::Str(b)) if bin => a.starts_with(&**b),
        (Fact::Str(a), Val::Str(b)) => a == &**b,
        _ => false,
    }
}

/// `Ok` when the condition holds, else the first leaf that failed.
fn why_not(c: &Cond, p: &Payment) -> Result<(), Box<Failure>> {
    match c {
        Cond::Leaf(l) => {
            if leaf_holds(l, p) {
                Ok(())
            } else {
                Err(Box::new(Failure {
                    path: l.path.to_string(),
                    field: Some(l.field.name()),
                    op: l.op_name,
                    value: Some(l.value.clone()),
                    actual: Some(p.fact_json(&l.field)),
                }))
            }
        }
        Cond::All(cs) => cs.iter().try_for_each(|c| why_not(c, p)),
        Cond::Any(cs) => {
            let mut first = None;
            for c in cs {
                match why_not(c, p) {
                    Ok(()) => return Ok(()),
                    Err(f) => {
                        first.get_or_insert(f);
                    }
                }
            }
            first.map_or(Ok(()), Err)
        }
        Cond::Not(c, path) => {
            if holds(c, p) {
                Err(Box::new(Failure {
                    path: path.to_string(),
                    field: None,
                    op: "not",
                    value: None,
                    actual: None,
                }))
            } else {
                Ok(())
            }
        }
    }
}

// --------------------------------------------------------------------- index

/// Bitsets of rules per indexed value. A payment's candidates are the AND,
/// over the indexed fields, of the bitset for its value; candidates are then
/// checked in rule order with the full condition.
#[derive(Debug)]
struct Index {
    words: usize,
    enabled: Vec<u64>,
    arena: Vec<u64>,
    discrete: Vec<DiscreteDim>,
    amount: Option<AmountDim>,
    bin: Option<BinDim>,
}

#[derive(Debug)]
struct DiscreteDim {
    field: FieldRef,
    /// Sorted by value.
    values: Vec<(u32, u32)>,
    other: u32,
    missing: u32,
}

#[derive(Debug)]
struct AmountDim {
    /// Start of each segment, sorted; segment `i` runs to `starts[i+1] - 1`.
    starts: Vec<u64>,
    sets: Vec<u32>,
}

#[derive(Debug)]
struct BinDim {
    /// (prefix key, bitset of rules naming that prefix), sorted by key.
    prefixes: Vec<(u64, u32)>,
    any: u32,
    missing: u32,
}

const DISCRETE: [FieldKind; 8] = [
    FieldKind::Currency,
    FieldKind::CardBrand,
    FieldKind::CardCountry,
    FieldKind::CardFunding,
    FieldKind::BillingCountry,
    FieldKind::CaptureMethod,
    FieldKind::OffSession,
    FieldKind::ThreeDSecure,
];

type Intervals = Vec<(u64, u64)>;

/// Most amount segments indexed; past this the amount is not indexed.
const MAX_AMOUNT_SEGMENTS: usize = 1024;

/// A BIN prefix as a number: length and digits, so lookups compare integers.
fn bin_key(prefix: &str) -> Option<u64> {
    Some(prefix_key(prefix.len(), prefix.parse().ok()?))
}

/// The key of the prefix of `len` digits whose value is `digits`.
fn prefix_key(len: usize, digits: u64) -> u64 {
    ((len as u64) << 40) | digits
}

impl Index {
    fn build(rules: &[CRule]) -> Index {
        let words = rules.len().div_ceil(64);
        let mut ix = Index {
            words,
            enabled: vec![0; words],
            arena: Vec::new(),
            discrete: Vec::new(),
            amount: None,
            bin: None,
        };
        for (i, r) in rules.iter().enumerate() {
            if r.enabled {
                ix.enabled[i / 64] |= 1 << (i % 64);
            }
        }
        let enabled: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].enabled).collect();

        for kind in DISCRETE {
            let guards: Vec<(usize, Guard<u32>)> = enabled
                .iter()
                .map(|&i| {
                    (
                        i,
                        rules[i]
                            .cond
                            .as_ref()
                            .map_or(Guard::Any, |c| guard::discrete(c, kind)),
                    )
                })
                .collect();
            if guards.iter().all(|(_, g)| *g == Guard::Any) {
                continue;
            }
            let any = ix.new_set();
            let mut all_vals: Vec<u32> = Vec::new();
            for (i, g) in &guards {
                match g {
                    Guard::Any => ix.set(any, *i),
                    Guard::Set { vals, .. } => all_vals.extend(vals),
                }
            }
            crate::sort::sort_dedup(&mut all_vals);
            let missing = ix.copy_set(any);
            let mut values = Vec::with_capacity(all_vals.len());
            for v in &all_vals {
                values.push((*v, ix.copy_set(any)));
            }
            for (i, g) in &guards {
                if let Guard::Set { vals, missing: m } = g {
                    for v in vals {
                        if let Ok(pos) = values.binary_search_by_key(v, |(k, _)| *k) {
                            ix.set(values[pos].1, *i);
                        }
                    }
                    if *m {
                        ix.set(missing, *i);
                    }
                }
            }
            ix.discrete.push(DiscreteDim {
                field: FieldRef { kind, key: None },
                values,
                other: any,
                missing,
            });
        }

        // Amount: segments between every interval bound any rule names.
        let amount_guards: Vec<(usize, Option<Intervals>)> = enabled
            .iter()
            .map(|&i| (i, rules[i].cond.as_ref().and_then(guard::amount)))
            .collect();
        if amount_guards.iter().any(|(_, g)| g.is_some()) {
            let mut starts = vec![0u64];
            for (_, g) in &amount_guards {
                for (lo, hi) in g.iter().flatten() {
                    starts.push(*lo);
                    if *hi < u64::MAX {
                        starts.push(hi + 1);
                    }
                }
            }
            crate::sort::sort_dedup(&mut starts);
            if starts.len() <= MAX_AMOUNT_SEGMENTS {
                let any = ix.new_set();
                for (i, g) in &amount_guards {
                    if g.is_none() {
                        ix.set(any, *i);
                    }
                }
                let sets: Vec<u32> = starts.iter().map(|_| ix.copy_set(any)).collect();
                for (i, g) in &amount_guards {
                    for (lo, hi) in g.iter().flatten() {
                        let from = starts.partition_point(|s| s < lo);
                        let to = starts.partition_point(|s| s <= hi);
                        for set in &sets[from..to] {
                            ix.set(*set, *i);
                        }
                    }
                }
                ix.amount = Some(AmountDim { starts, sets });
            }
        }

        // BIN: rules naming BIN prefixes.
        let bin_guards: Vec<(usize, Guard<Box<str>>)> = enabled
            .iter()
            .map(|&i| (i, rules[i].cond.as_ref().map_or(Guard::Any, guard::bin)))
            .collect();
        if bin_guards.iter().any(|(_, g)| *g != Guard::Any) {
            let any = ix.new_set();
            let missing = ix.new_set();
            let mut prefixes: Vec<(u64, u32)> = Vec::new();
            let mut seen: std::collections::HashMap<u64, u32> = Default::default();
            for (i, g) in &bin_guards {
                match g {
                    Guard::Any => {
                        ix.set(any, *i);
                        ix.set(missing, *i);
                    }
                    Guard::Set { vals, missing: m } => {
                        if *m {
                            ix.set(missing, *i);
                        }
                        for v in vals {
                            let Some(key) = bin_key(v) else { continue };
                            let set = match seen.get(&key) {
                                Some(s) => *s,
                                None => {
                                    let s = ix.new_set();
                                    seen.insert(key, s);
                                    prefixes.push((key, s));
                                    s
                                }
                            };
                            ix.set(set, *i);
                        }
                    }
                }
            }
            crate::sort::sort(&mut prefixes);
            ix.bin = Some(BinDim {
                prefixes,
                any,
                missing,
            });
        }
        ix
    }

    fn new_set(&mut self) -> u32 {
        let id = self.arena.len() / self.words.max(1);
        self.arena.resize(self.arena.len() + self.words, 0);
        id as u32
    }

    fn copy_set(&mut self, from: u32) -> u32 {
        let id = self.new_set();
        let w = self.words;
        let (src, dst) = (from as usize * w, id as usize * w);
        self.arena.copy_within(src..src + w, dst);
        id
    }

    fn set(&mut self, set: u32, rule: usize) {
        self.arena[set as usize * self.words + rule / 64] |= 1 << (rule % 64);
    }

    fn slice(&self, set: u32) -> &[u64] {
        let s = set as usize * self.words;
        &self.arena[s..s + self.words]
    }

    /// The first enabled rule, in order, whose condition holds.
    fn first_match(&self, rules: &[CRule], p: &Payment) -> Option<usize> {
        // Gather the bitsets to AND, without allocating.
        let mut and: [&[u64]; DISCRETE.len() + 2] = [&[]; DISCRETE.len() + 2];
        let mut n = 0;
        for d in &self.discrete {
            let set = match p.fact(&d.field) {
                None => d.missing,
                Some(f) => {
                    let code = match f {
                        Fact::Code(c) => c,
                        Fact::Bool(b) => u32::from(b),
                        _ => u32::MAX,
                    };
                    match d.values.binary_search_by_key(&code, |(k, _)| *k) {
                        Ok(pos) => d.values[pos].1,
                        Err(_) => d.other,
                    }
                }
            };
            and[n] = self.slice(set);
            n += 1;
        }
        if let Some(a) = &self.amount {
            let seg = a
                .starts
                .partition_point(|s| *s <= p.amount.0)
                .saturating_sub(1);
            if let Some(set) = a.sets.get(seg) {
                and[n] = self.slice(*set);
                n += 1;
            }
        }
        // BIN: the rules with no BIN constraint, OR those naming a prefix of it.
        let mut or: [&[u64]; 8] = [&[]; 8];
        let mut m = 0;
        if let Some(b) = &self.bin {
            match &p.bin {
                None => {
                    and[n] = self.slice(b.missing);
                    n += 1;
                }
                Some(bin) => {
                    // Each prefix's key, digit by digit (`bin_key` would
                    // parse each prefix again).
                    let mut digits = 0u64;
                    for (len, d) in bin.as_str().bytes().take(8).enumerate() {
                        if !d.is_ascii_digit() {
                            break;
                        }
                        digits = digits * 10 + u64::from(d - b'0');
                        let key = prefix_key(len + 1, digits);
                        if let Ok(pos) = b.prefixes.binary_search_by_key(&key, |(k, _)| *k) {
                            or[m] = self.slice(b.prefixes[pos].1);
                            m += 1;
                        }
                    }
                    // The ORed prefixes join the "any" set as one more AND operand below.
                }
            }
        }
        let bin_any = match (&self.bin, &p.bin) {
            (Some(b), Some(_)) => Some(self.slice(b.any)),
            _ => None,
        };
        let and = &and[..n];
        let or = &or[..m];
        for w in 0..self.words {
            let mut bits = self.enabled[w];
            for s in and {
                bits &= s[w];
            }
            if bits == 0 {
                continue;
            }
            if let Some(any) = bin_any {
                let mut b = any[w];
                for s in or {
                    b |= s[w];
                }
                bits &= b;
            }
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                if let Some(r) = rules.get(i) {
                    if r.cond.as_ref().is_none_or(|c| holds(c, p)) {
                        return Some(i);
                    }
                }
                bits &= bits - 1;
            }
        }
        None
    }
}

/// The issues of payment `i` of a list: its index in every path and message.
pub(crate) fn at_index(i: usize, issues: Vec<Issue>) -> Vec<Issue> {
    issues
        .into_iter()
        .map(|mut x| {
            x.path = format!("/{i}{}", x.path);
            x.message = format!("payment {i}: {}", x.message);
            x
        })
        .collect()
}

/// Simulates a JSON array of payments (rules.md payment inputs) without
/// building them all in memory. A payment without `routing_key` is keyed by
/// its position. The first invalid payment is reported, with its index in
/// every issue's path.
pub fn simulate_json(router: &Router, text: &str, rates: &Rates) -> Result<Simulation, Vec<Issue>> {
    use serde::de::{DeserializeSeed, SeqAccess, Visitor};

    struct Run<'r> {
        router: &'r Router,
        rates: &'r Rates,
        tally: Tally,
        /// The first payment that failed validation, with its issues.
        bad: Option<(usize, Vec<Issue>)>,
    }
    impl<'de> Visitor<'de> for &mut Run<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of payments")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0usize;
            let mut key = String::new();
            while let Some(crate::payment::StrictInput::<crate::payment::Text<'de>>(input)) =
                seq.next_element()?
            {
                let mut input = input;
                // The key goes straight to the tally (the payment need not
                // own a copy); one too long stays, to be refused.
                let key_of = match &input.routing_key {
                    Some(k) if k.as_ref().len() <= crate::payment::MAX_ROUTING_KEY => {
                        input.routing_key.take()
                    }
                    _ => None,
                };
                match Payment::from_input_keeping(input, |k| self.router.reads_metadata(k)) {
                    Ok(p) => match key_of.as_ref().map(AsRef::as_ref) {
                        Some(k) => self.router.tally(&mut self.tally, &p, k, self.rates),
                        None => {
                            use std::fmt::Write;
                            key.clear();
                            let _ = write!(key, "{i}");
                            self.router.tally(&mut self.tally, &p, &key, self.rates);
                        }
                    },
                    Err(issues) => {
                        self.bad = Some((i, issues));
                        return Err(serde::de::Error::custom("invalid payment"));
                    }
                }
                i += 1;
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for &mut Run<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    let mut run = Run {
        router,
        rates,
        tally: Tally::default(),
        bad: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = (&mut run).deserialize(&mut de).and_then(|()| de.end());
    let at = at_index;
    match (parsed, run.bad) {
        (_, Some((i, issues))) => Err(at(i, issues)),
        (Ok(()), None) => Ok(run.tally.finish(router)),
        (Err(_), None) => {
            // A payment of the wrong shape: find it, for an issue with a path.
            let list: Vec<Value> = match serde_json::from_str(text) {
                Ok(Value::Array(list)) => list,
                _ => {
                    return Err(vec![Issue {
                        path: String::new(),
                        code: "wrong_type",
                        message: "simulate takes a JSON array of payments".to_owned(),
                    }])
                }
            };
            // Every payment reads on the JSON path (a repeated key, say, which
            // the strict fast path refuses): simulate from there.
            let mut tally = Tally::default();
            for (i, v) in list.iter().enumerate() {
                match Payment::from_value(v) {
                    Err(issues) => return Err(at(i, issues)),
                    Ok(p) => match p.routing_key() {
                        Some(k) => router.tally(&mut tally, &p, k, rates),
                        None => router.tally(&mut tally, &p, &i.to_string(), rates),
                    },
                }
            }
            Ok(tally.finish(router))
        }
    }
}
