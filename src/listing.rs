//! Lists and search of payments and refunds, the Stripe way, over the
//! mode's index shards (`edge/index_do.rs`). Pure: the query parameters
//! and Stripe's search query language become a filter (SQL over the
//! index's columns, values always bound as arguments), and the shards'
//! pages are merged into one.
//!
//! Order: newest first by creation time in milliseconds, then by id, so a
//! cursor (`starting_after`, `ending_before`, a search `page`) names one
//! place in one total order across shards.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::form::{only_keys, param_str, param_u64};
use crate::params::{
    expand, LIST_CHARGES_PARAMS, LIST_INTENTS_PARAMS, LIST_REFUNDS_PARAMS, SEARCH_PARAMS,
};

/// A value bound to a `?` of a filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Int(i64),
    Text(String),
}

/// A condition over an index table's columns, with its arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Filter {
    fn and(&mut self, sql: &str, args: impl IntoIterator<Item = Arg>) {
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        self.sql.push_str(sql);
        self.args.extend(args);
    }
}

/// Where a page starts: after (older than) or before (newer than) a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub created_ms: i64,
    pub id: String,
    pub backwards: bool,
}

/// A row of a shard's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub created_ms: i64,
    pub body: String,
    /// The latest Charge, for `expand[]=data.latest_charge`.
    #[serde(default)]
    pub charge: Option<String>,
}

/// A list request, read from the query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    pub limit: u32,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
    pub filter: Filter,
    /// Only the refunds or charges of this payment (one shard).
    pub payment_intent: Option<String>,
    pub expand_charge: bool,
}

fn limit(v: &Value) -> Result<u32, ApiError> {
    let limit = param_u64(v, "limit", "limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "parameter_invalid_integer",
            "limit must be an integer from 1 to 100.",
        ));
    }
    Ok(limit as u32)
}

/// `created` as Stripe takes it: a timestamp, or `created[gt|gte|lt|lte]`.
fn created(v: &Value, f: &mut Filter) -> Result<(), ApiError> {
    let secs = |x: &Value, param: &str| -> Result<i64, ApiError> {
        let n = match x {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse::<u64>().ok(),
            _ => None,
        };
        n.and_then(|n| i64::try_from(n).ok()).ok_or_else(|| {
            ApiError::invalid(
                param,
                "parameter_invalid_integer",
                format!("Invalid integer: {param}"),
            )
        })
    };
    match v.get("created") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            only_keys(&v["created"], "created", &["gt", "gte", "lt", "lte"])?;
            for (op, x) in m {
                let sql = match op.as_str() {
                    "gt" => "created > ?",
                    "gte" => "created >= ?",
                    "lt" => "created < ?",
                    _ => "created <= ?",
                };
                f.and(sql, [Arg::Int(secs(x, &format!("created[{op}]"))?)]);
            }
        }
        Some(x) => f.and("created = ?", [Arg::Int(secs(x, "created")?)]),
    }
    Ok(())
}

fn cursors(v: &Value, r: &mut ListRequest) -> Result<(), ApiError> {
    r.starting_after = param_str(v, "starting_after")?;
    r.ending_before = param_str(v, "ending_before")?;
    if r.starting_after.is_some() && r.ending_before.is_some() {
        return Err(ApiError::invalid(
            "ending_before",
            "parameter_invalid",
            "Give starting_after or ending_before, not both.",
        ));
    }
    Ok(())
}

/// `GET /v1/payment_intents`: `limit`, `starting_after`, `ending_before`,
/// `created`, `customer`, `expand[]=data.latest_charge`.
pub fn payment_intents(query: Option<&str>) -> Result<ListRequest, ApiError> {
    let v = crate::form::parse_form(query.unwrap_or(""))?;
    only_keys(&v, "", LIST_INTENTS_PARAMS)?;
    let mut r = ListRequest {
        limit: limit(&v)?,
        expand_charge: !expand(&v, &["data.latest_charge"])?.is_empty(),
        ..ListRequest::default()
    };
    cursors(&v, &mut r)?;
    created(&v, &mut r.filter)?;
    if let Some(c) = param_str(&v, "customer")? {
        r.filter.and("customer = ?", [Arg::Text(c)]);
    }
    Ok(r)
}

/// `GET /v1/refunds`: `limit`, cursors, `created`, `payment_intent` or
/// `charge` (the refunds of one payment).
pub fn refunds(query: Option<&str>) -> Result<ListRequest, ApiError> {
    let v = crate::form::parse_form(query.unwrap_or(""))?;
    only_keys(&v, "", LIST_REFUNDS_PARAMS)?;
    expand(&v, &[])?;
    let mut r = ListRequest {
        limit: limit(&v)?,
        ..ListRequest::default()
    };
    cursors(&v, &mut r)?;
    created(&v, &mut r.filter)?;
    if let Some(pi) = param_str(&v, "payment_intent")? {
        r.filter.and("payment_intent = ?", [Arg::Text(pi.clone())]);
        r.payment_intent = Some(pi);
    }
    if let Some(ch) = param_str(&v, "charge")? {
        let pi = switchyard_processors::extras::payment_of_charge(&ch)
            .ok_or_else(|| ApiError::no_such_in("charge", "charge", &ch))?;
        r.filter.and("charge = ?", [Arg::Text(ch)]);
        r.payment_intent = Some(pi);
    }
    Ok(r)
}

/// `GET /v1/charges`: the Charges of one payment (`payment_intent` is
/// required: Charges live with their payment), paged in memory.
pub fn charges(query: Option<&str>) -> Result<(String, ListRequest), ApiError> {
    let v = crate::form::parse_form(query.unwrap_or(""))?;
    only_keys(&v, "", LIST_CHARGES_PARAMS)?;
    expand(&v, &[])?;
    let pi = param_str(&v, "payment_intent")?.ok_or_else(|| {
        ApiError::invalid(
            "payment_intent",
            "parameter_missing",
            "Charges are listed by payment: give payment_intent (Switchyard keeps each Charge with its PaymentIntent).",
        )
    })?;
    let mut r = ListRequest {
        limit: limit(&v)?,
        payment_intent: Some(pi.clone()),
        ..ListRequest::default()
    };
    cursors(&v, &mut r)?;
    Ok((pi, r))
}

/// A page of items already in order (newest first), by id cursor: for
/// the few Charges of one payment. A cursor that is not among them is a
/// 400 naming it, as for the indexed lists.
pub fn page_in_memory(items: Vec<Value>, r: &ListRequest) -> Result<(Vec<Value>, bool), ApiError> {
    let pos = |param: &str, id: &str| {
        items
            .iter()
            .position(|x| x["id"] == id)
            .ok_or_else(|| ApiError::no_such_in(param, "charge", id))
    };
    let (from, to) = match (&r.starting_after, &r.ending_before) {
        (Some(a), _) => (pos("starting_after", a)? + 1, items.len()),
        (None, Some(b)) => (0, pos("ending_before", b)?),
        (None, None) => (0, items.len()),
    };
    let n = r.limit as usize;
    let slice: Vec<Value> = items.get(from..to).unwrap_or_default().to_vec();
    let more = slice.len() > n;
    let page = if r.ending_before.is_some() {
        slice[slice.len().saturating_sub(n)..].to_vec()
    } else {
        slice.into_iter().take(n).collect()
    };
    Ok((page, more))
}

/// Merges the shards' pages (each at most `limit + 1` rows in the
/// cursor's direction) into one page, newest first, and whether there is
/// more in that direction.
pub fn merge(pages: Vec<Vec<Row>>, limit: u32, backwards: bool) -> (Vec<Row>, bool) {
    let mut rows: Vec<Row> = pages.into_iter().flatten().collect();
    // Newest first; backwards pages are read oldest first (nearest the
    // cursor first).
    rows.sort_by(|a, b| (b.created_ms, &b.id).cmp(&(a.created_ms, &a.id)));
    if backwards {
        rows.reverse();
    }
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if backwards {
        rows.reverse();
    }
    (rows, more)
}

/// The SQL condition of a cursor (after it: older; backwards: newer).
pub fn cursor_sql(c: &Cursor, f: &mut Filter) {
    let sql = if c.backwards {
        "(created_ms > ? OR (created_ms = ? AND id > ?))"
    } else {
        "(created_ms < ? OR (created_ms = ? AND id < ?))"
    };
    f.and(
        sql,
        [
            Arg::Int(c.created_ms),
            Arg::Int(c.created_ms),
            Arg::Text(c.id.clone()),
        ],
    );
}

/// A search's `page` token: the last row's place, `<created_ms>:<id>`.
pub fn page_token(row: &Row) -> String {
    format!("{}:{}", row.created_ms, row.id)
}

fn parse_page_token(t: &str) -> Option<Cursor> {
    let (ms, id) = t.split_once(':')?;
    let ok = id.starts_with("pi_") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(())?;
    Some(Cursor {
        created_ms: ms.parse().ok()?,
        id: id.to_owned(),
        backwards: false,
    })
}

/// A search request: its filter, limit and page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    pub query: String,
    pub filter: Filter,
    pub limit: u32,
    pub page: Option<Cursor>,
    pub expand_charge: bool,
}

/// `GET /v1/payment_intents/search`: `query` (Stripe's search query
/// language over `amount`, `created`, `currency`, `customer`, `status` and
/// `metadata["key"]`), `limit`, `page`, `expand[]=data.latest_charge`.
pub fn search(query: Option<&str>) -> Result<SearchRequest, ApiError> {
    let v = crate::form::parse_form(query.unwrap_or(""))?;
    only_keys(&v, "", SEARCH_PARAMS)?;
    let q = param_str(&v, "query")?.ok_or_else(|| ApiError::missing("query"))?;
    let page = match param_str(&v, "page")? {
        None => None,
        Some(t) => Some(parse_page_token(&t).ok_or_else(|| {
            ApiError::invalid("page", "parameter_invalid", "Invalid page token.")
        })?),
    };
    Ok(SearchRequest {
        filter: parse_query(&q)?,
        query: q,
        limit: limit(&v)?,
        page,
        expand_charge: !expand(&v, &["data.latest_charge"])?.is_empty(),
    })
}

fn query_error(message: impl Into<String>) -> ApiError {
    ApiError::invalid("query", "parameter_invalid", message)
}

/// One token of a query: a word, a quoted string, or punctuation.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Minus,
    Bracket(String),
}

fn tokens(q: &str) -> Result<Vec<Tok>, ApiError> {
    let mut out = Vec::new();
    let mut it = q.chars().peekable();
    while let Some(&c) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '"' => {
                it.next();
                let mut s = String::new();
                loop {
                    match it.next() {
                        Some('\\') => {
                            if let Some(x) = it.next() {
                                s.push(x);
                            }
                        }
                        Some('"') => break,
                        Some(x) => s.push(x),
                        None => return Err(query_error("Unterminated string in query.")),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            '[' => {
                it.next();
                let mut s = String::new();
                loop {
                    match it.next() {
                        Some(']') => break,
                        Some(x) => s.push(x),
                        None => return Err(query_error("Unterminated [ in query.")),
                    }
                }
                let key = s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
                out.push(Tok::Bracket(key));
            }
            ':' | '~' => {
                it.next();
                out.push(Tok::Op(if c == ':' { ":" } else { "~" }));
            }
            '>' | '<' => {
                it.next();
                let eq = it.peek() == Some(&'=');
                if eq {
                    it.next();
                }
                out.push(Tok::Op(match (c, eq) {
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    ('<', false) => "<",
                    _ => "<=",
                }));
            }
            // A `-` that starts a clause (not a value after an operator).
            '-' if !matches!(out.last(), Some(Tok::Op(_))) => {
                it.next();
                out.push(Tok::Minus);
            }
            _ => {
                let mut s = String::new();
                while let Some(&x) = it.peek() {
                    if x.is_whitespace() || ":~<>[\"".contains(x) {
                        break;
                    }
                    s.push(x);
                    it.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

const SEARCH_STATUSES: &[&str] = &[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
];

/// Parses Stripe's search query language into a filter: up to 10 clauses
/// joined by `AND` or by `OR` (not both), each `field:value` (exact; a
/// `-` before it negates), `field~"text"` (substring, 3 characters at
/// least; `metadata` values only), or `field>value` (`>`, `>=`, `<`, `<=`;
/// `amount`, `created`). `field:null` matches no value.
pub fn parse_query(q: &str) -> Result<Filter, ApiError> {
    let toks = tokens(q)?;
    let mut f = Filter::default();
    let mut clauses: Vec<String> = Vec::new();
    let mut joiner: Option<&str> = None;
    let mut i = 0;
    while i < toks.len() {
        if !clauses.is_empty() {
            match toks.get(i) {
                Some(Tok::Word(w)) if w == "AND" || w == "OR" => {
                    if joiner.is_some_and(|j| j != w) {
                        return Err(query_error(
                            "A query can join its clauses with AND or with OR, not both.",
                        ));
                    }
                    joiner = Some(if w == "AND" { "AND" } else { "OR" });
                    i += 1;
                }
                _ => joiner = joiner.or(Some("AND")),
            }
        }
        let negated = matches!(toks.get(i), Some(Tok::Minus));
        if negated {
            i += 1;
        }
        let Some(Tok::Word(field)) = toks.get(i) else {
            return Err(query_error("Expected a field name in the query."));
        };
        i += 1;
        let meta_key = match (field.as_str(), toks.get(i)) {
            ("metadata", Some(Tok::Bracket(k))) => {
                i += 1;
                Some(k.clone())
            }
            ("metadata", _) => {
                return Err(query_error(
                    "metadata is searched by key: metadata[\"key\"]:\"value\".",
                ))
            }
            _ => None,
        };
        let Some(Tok::Op(op)) = toks.get(i) else {
            return Err(query_error(format!(
                "Expected :, ~, >, <, >= or <= after {field}."
            )));
        };
        let op = *op;
        i += 1;
        let (value, quoted) = match toks.get(i) {
            Some(Tok::Quoted(s)) => (s.clone(), true),
            Some(Tok::Word(w)) => (w.clone(), false),
            _ => return Err(query_error(format!("Expected a value after {field}{op}."))),
        };
        i += 1;
        let (sql, args) = clause(field, meta_key.as_deref(), op, &value, quoted)?;
        // A payment without the field does not equal the value: its
        // negation holds (SQL's NULL would make it unknown).
        let sql = if negated {
            format!("NOT IFNULL(({sql}), 0)")
        } else {
            sql
        };
        clauses.push(sql);
        f.args.extend(args);
        if clauses.len() > 10 {
            return Err(query_error("A query can have at most 10 clauses."));
        }
    }
    if clauses.is_empty() {
        return Err(query_error("The query is empty."));
    }
    f.sql = format!(
        "({})",
        clauses.join(&format!(" {} ", joiner.unwrap_or("AND")))
    );
    Ok(f)
}

fn clause(
    field: &str,
    meta_key: Option<&str>,
    op: &str,
    value: &str,
    quoted: bool,
) -> Result<(String, Vec<Arg>), ApiError> {
    let null = !quoted && value == "null";
    let int = |v: &str| {
        v.parse::<i64>().map_err(|_| {
            query_error(format!(
                "{field} takes an integer: {}",
                v.chars().take(32).collect::<String>()
            ))
        })
    };
    match (field, op) {
        ("amount" | "created", ":") if null => Ok((format!("{field} IS NULL"), vec![])),
        ("amount" | "created", ":" | ">" | ">=" | "<" | "<=") => {
            let sql_op = if op == ":" { "=" } else { op };
            Ok((format!("{field} {sql_op} ?"), vec![Arg::Int(int(value)?)]))
        }
        ("currency" | "customer" | "status", ":") if null => {
            Ok((format!("{field} IS NULL"), vec![]))
        }
        ("currency" | "customer" | "status", ":") => {
            let v = if field == "currency" {
                value.to_ascii_lowercase()
            } else {
                value.to_owned()
            };
            if field == "status" && !SEARCH_STATUSES.contains(&v.as_str()) {
                return Err(query_error(format!(
                    "status must be one of {}.",
                    SEARCH_STATUSES.join(", ")
                )));
            }
            Ok((format!("{field} = ?"), vec![Arg::Text(v)]))
        }
        ("metadata", ":" | "~") => {
            let key = meta_key.unwrap_or_default();
            let path = format!("$.\"{}\"", key.replace('"', ""));
            if null {
                return Ok((
                    "json_extract(metadata, ?) IS NULL".to_owned(),
                    vec![Arg::Text(path)],
                ));
            }
            if op == "~" {
                if value.chars().count() < 3 {
                    return Err(query_error("A substring search (~) needs 3 characters at least."));
                }
                return Ok((
                    "instr(json_extract(metadata, ?), ?) > 0".to_owned(),
                    vec![Arg::Text(path), Arg::Text(value.to_owned())],
                ));
            }
            Ok((
                "json_extract(metadata, ?) = ?".to_owned(),
                vec![Arg::Text(path), Arg::Text(value.to_owned())],
            ))
        }
        ("amount" | "created" | "currency" | "customer" | "status", _) => Err(query_error(
            format!("{field} cannot be searched with {op}."),
        )),
        _ => Err(query_error(format!(
            "Unknown search field: {}. PaymentIntents are searched by amount, created, currency, customer, metadata and status.",
            field.chars().take(32).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ms: i64, id: &str) -> Row {
        Row {
            id: id.into(),
            created_ms: ms,
            body: String::new(),
            charge: None,
        }
    }

    #[test]
    fn merges_shards_newest_first() {
        let pages = vec![
            vec![row(5, "pi_a"), row(2, "pi_b")],
            vec![row(4, "pi_c"), row(3, "pi_d")],
            vec![],
        ];
        let (rows, more) = merge(pages.clone(), 3, false);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((ids, more), (vec!["pi_a", "pi_c", "pi_d"], true));
        // Backwards (ending_before): the rows nearest the cursor, newest first.
        let back = vec![vec![row(6, "pi_e"), row(9, "pi_f")], vec![row(7, "pi_g")]];
        let (rows, more) = merge(back, 2, true);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((ids, more), (vec!["pi_g", "pi_e"], true));
    }

    #[test]
    fn charges_page_in_memory() {
        let items: Vec<Value> = ["ch_3", "ch_2", "ch_1"]
            .iter()
            .map(|id| serde_json::json!({ "id": id }))
            .collect();
        let req = |after: Option<&str>, before: Option<&str>| ListRequest {
            limit: 1,
            starting_after: after.map(str::to_owned),
            ending_before: before.map(str::to_owned),
            ..ListRequest::default()
        };
        let ids = |r: Result<(Vec<Value>, bool), ApiError>| {
            r.map(|(page, more)| {
                (
                    page.iter().map(|x| x["id"].to_string()).collect::<Vec<_>>(),
                    more,
                )
            })
            .map_err(|e| e.param.clone())
        };
        assert_eq!(
            ids(page_in_memory(items.clone(), &req(Some("ch_3"), None))),
            Ok((vec!["\"ch_2\"".to_owned()], true))
        );
        assert_eq!(
            ids(page_in_memory(items.clone(), &req(None, Some("ch_1")))),
            Ok((vec!["\"ch_2\"".to_owned()], true))
        );
        assert_eq!(
            ids(page_in_memory(items.clone(), &req(Some("ch_1"), None))),
            Ok((vec![], false))
        );
        assert_eq!(
            ids(page_in_memory(items, &req(Some("ch_x"), None))),
            Err(Some("starting_after".to_owned()))
        );
    }

    #[test]
    fn search_queries() {
        let f = parse_query("status:'x'").err();
        assert!(f.is_some());
        let f =
            parse_query("status:\"succeeded\" AND amount>=1000 AND metadata[\"order\"]:\"8812\"");
        let f = f.unwrap_or_default();
        assert_eq!(
            f.sql,
            "(status = ? AND amount >= ? AND json_extract(metadata, ?) = ?)"
        );
        assert_eq!(f.args.len(), 4);
        let f = parse_query("currency:\"EUR\" OR -customer:\"cus_1\"").unwrap_or_default();
        assert_eq!(f.sql, "(currency = ? OR NOT IFNULL((customer = ?), 0))");
        // Implicit AND, negated second clause, negative number value.
        let g = parse_query("status:\"succeeded\" -customer:\"c\" amount>-5").unwrap_or_default();
        assert_eq!(
            g.sql,
            "(status = ? AND NOT IFNULL((customer = ?), 0) AND amount > ?)"
        );
        assert_eq!(f.args[0], Arg::Text("eur".into()));
        for bad in [
            "",
            "status:\"succeeded\" AND amount>1 OR currency:\"usd\"",
            "colour:\"red\"",
            "amount:\"x\"",
            "status:\"nope\"",
            "metadata:\"x\"",
            "metadata[\"k\"]~\"ab\"",
            "status",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_params() {
        let r = payment_intents(Some(
            "limit=3&created[gte]=10&customer=cus_1&expand[]=data.latest_charge",
        ));
        let r = r.unwrap_or_default();
        assert_eq!(r.limit, 3);
        assert!(r.expand_charge);
        assert_eq!(r.filter.sql, "created >= ? AND customer = ?");
        for (bad, param) in [
            ("limit=0", "limit"),
            ("foo=1", "foo"),
            ("expand[]=data.payment_method", "expand"),
            ("starting_after=a&ending_before=b", "ending_before"),
            ("created[eq]=1", "created[eq]"),
        ] {
            let e = payment_intents(Some(bad)).err();
            assert_eq!(
                e.and_then(|e| e.param.clone()).as_deref(),
                Some(param),
                "{bad}"
            );
        }
        assert!(charges(Some("limit=2")).is_err());
    }
}
