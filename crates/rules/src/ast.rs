//! The validated rule set: what parsing produces and compiling consumes.

use crate::values::MinorUnits;

/// A payment fact a rule can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    Amount,
    Currency,
    CardBrand,
    CardBin,
    CardCountry,
    CardFunding,
    CardIssuer,
    BillingCountry,
    CaptureMethod,
    OffSession,
    ThreeDSecure,
    Metadata,
}

/// The type of a field's values, which decides its operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Amount,
    Currency,
    Brand,
    Bin,
    Country,
    Funding,
    CaptureMethod,
    Text,
    Boolean,
}

/// The field catalogue: every fixed field with its type. `metadata.KEY` is
/// the one open family.
pub(crate) const FIELDS: &[(&str, FieldKind, FieldType)] = &[
    ("amount", FieldKind::Amount, FieldType::Amount),
    ("currency", FieldKind::Currency, FieldType::Currency),
    ("card.brand", FieldKind::CardBrand, FieldType::Brand),
    ("card.bin", FieldKind::CardBin, FieldType::Bin),
    ("card.country", FieldKind::CardCountry, FieldType::Country),
    ("card.funding", FieldKind::CardFunding, FieldType::Funding),
    ("card.issuer", FieldKind::CardIssuer, FieldType::Text),
    (
        "billing.country",
        FieldKind::BillingCountry,
        FieldType::Country,
    ),
    (
        "capture_method",
        FieldKind::CaptureMethod,
        FieldType::CaptureMethod,
    ),
    ("off_session", FieldKind::OffSession, FieldType::Boolean),
    (
        "three_d_secure",
        FieldKind::ThreeDSecure,
        FieldType::Boolean,
    ),
];

pub(crate) const OPERATORS: &[&str] = &[
    "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "between", "prefix", "exists",
];

impl FieldType {
    /// The operators that apply to this type (rules.md, Operators).
    pub fn operators(self) -> &'static [&'static str] {
        match self {
            FieldType::Amount => &[
                "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "between", "exists",
            ],
            FieldType::Bin | FieldType::Text => &["eq", "ne", "in", "not_in", "prefix", "exists"],
            FieldType::Boolean => &["eq", "ne", "exists"],
            _ => &["eq", "ne", "in", "not_in", "exists"],
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Amount => "integer",
            FieldType::Currency => "currency",
            FieldType::Brand => "brand",
            FieldType::Bin => "bin",
            FieldType::Country => "country",
            FieldType::Funding => "funding",
            FieldType::CaptureMethod => "capture_method",
            FieldType::Text => "string",
            FieldType::Boolean => "boolean",
        }
    }
}

/// A field reference in a rule: the kind, and the key for `metadata.KEY`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    pub kind: FieldKind,
    pub key: Option<Box<str>>,
}

impl FieldRef {
    pub fn name(&self) -> String {
        match (&self.kind, &self.key) {
            (FieldKind::Metadata, Some(k)) => format!("metadata.{k}"),
            (kind, _) => FIELDS
                .iter()
                .find(|(_, k, _)| k == kind)
                .map(|(n, _, _)| (*n).to_owned())
                .unwrap_or_default(),
        }
    }
}

/// A value in a comparison, in the engine's own representation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    /// An amount in minor units.
    Int(u64),
    /// An enumerated value (currency, country, brand, funding, capture method).
    Code(u32),
    Bool(bool),
    /// Text (issuer, metadata) or a BIN (compared by prefix).
    Str(Box<str>),
}

/// A compiled operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Eq(Val),
    Ne(Val),
    In(Vec<Val>),
    NotIn(Vec<Val>),
    /// Inclusive range of amounts; empty when `lo > hi`.
    Range(u64, u64),
    Prefix(Vec<Box<str>>),
    Exists(bool),
}

/// A leaf condition, with what the trace needs to explain it.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub field: FieldRef,
    pub op: Op,
    /// The operator as written (`gte`).
    pub op_name: &'static str,
    /// The value as written.
    pub value: serde_json::Value,
    /// JSON Pointer of the leaf in the rule set.
    pub path: Box<str>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>, Box<str>),
    Leaf(Leaf),
}

/// What a rule (or the default) does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Route(Vec<String>),
    Split {
        entries: Vec<(String, u64)>,
        fallback: Vec<String>,
    },
    Decline {
        code: String,
        message: Option<String>,
    },
    /// Choose among `processors` by their recent authorization rate
    /// (docs/rules.md, "Routing by authorization rate").
    AuthRate {
        processors: Vec<String>,
        /// The exploration share, in millionths (0 to 500,000).
        explore_ppm: u32,
        /// The fewest attempts a group needs for its rate to count.
        min_sample: u64,
        fallback: Vec<String>,
    },
}

/// `auth_rate`'s defaults: explore 5 % of payments, and trust a group's
/// rate from 100 attempts.
pub const DEFAULT_EXPLORE_PPM: u32 = 50_000;
pub const DEFAULT_MIN_SAMPLE: u64 = 100;
/// The largest exploration share (beyond it, exploring outweighs the best).
pub const MAX_EXPLORE_PPM: u32 = 500_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub cond: Option<Cond>,
    pub action: Action,
    pub enabled: bool,
}

/// A validated rule set.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSet {
    pub name: Option<String>,
    pub rules: Vec<Rule>,
    pub default: Action,
}

/// Limits of rules.md.
pub const MAX_RULES: usize = 10_000;
pub const MAX_DEPTH: usize = 32;
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// The largest amount a rule may name.
pub(crate) const MAX_AMOUNT: u64 = MinorUnits::MAX;
