//! Request bodies: `application/x-www-form-urlencoded` with Stripe's bracket
//! notation, or JSON, both turned into one `serde_json::Value` tree.
//!
//! Form values stay strings (`"1000"`, `"true"`); the handlers read them with
//! the `param_*` helpers, which accept a JSON number/boolean or its string.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// The largest body accepted (a 1 MiB rule set plus its envelope).
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Nesting limit of bracket notation (`a[b][c]...`).
const MAX_DEPTH: usize = 8;

/// A request body as it streams in, refused as soon as it passes
/// `MAX_BODY`: a body of unknown length (chunked) is never read whole
/// before its size is known.
#[derive(Default)]
pub struct BodyBuffer {
    bytes: Vec<u8>,
}

impl BodyBuffer {
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if self.bytes.len().saturating_add(chunk.len()) > MAX_BODY {
            return Err(ApiError::too_large(MAX_BODY));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Parses a body by its content type. An empty body is an empty object.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large(MAX_BODY));
    }
    let ct = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid("", "body_invalid", "The request body is not UTF-8."))?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    if ct == "application/json" || (ct.is_empty() && text.trim_start().starts_with('{')) {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            ApiError::invalid(
                "",
                "body_invalid",
                format!("The request body is not valid JSON: {e}."),
            )
        })?;
        if !v.is_object() {
            return Err(ApiError::invalid(
                "",
                "body_invalid",
                "The request body must be a JSON object.",
            ));
        }
        return Ok(v);
    }
    parse_form(text)
}

/// Parses `a=1&b[c]=2&d[]=x&d[]=y&e[0]=z` into nested objects and arrays.
pub fn parse_form(text: &str) -> Result<Value, ApiError> {
    let mut root = Value::Object(Map::new());
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(k)?;
        let value = decode(v)?;
        let path = split_key(&key)?;
        insert(&mut root, &path, value, &key)?;
    }
    Ok(root)
}

fn bad_key(key: &str) -> ApiError {
    ApiError::invalid(
        key,
        "parameter_invalid",
        format!("Invalid parameter name: {key}"),
    )
}

/// `a[b][]` → `["a", "b", ""]`.
fn split_key(key: &str) -> Result<Vec<String>, ApiError> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(bad_key(key));
    }
    let mut parts = vec![head.to_owned()];
    while !rest.is_empty() {
        if !rest.starts_with('[') {
            return Err(bad_key(key));
        }
        let close = rest.find(']').ok_or_else(|| bad_key(key))?;
        parts.push(rest[1..close].to_owned());
        rest = &rest[close + 1..];
        if parts.len() > MAX_DEPTH {
            return Err(bad_key(key));
        }
    }
    Ok(parts)
}

fn insert(node: &mut Value, path: &[String], value: String, key: &str) -> Result<(), ApiError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(bad_key(key));
    };
    // Array segment: "" appends, a number indexes.
    let is_index = first.is_empty() || first.bytes().all(|b| b.is_ascii_digit());
    if is_index && !matches!(node, Value::Object(m) if !m.is_empty()) {
        if !node.is_array() {
            *node = Value::Array(Vec::new());
        }
        let Value::Array(arr) = node else {
            return Err(bad_key(key));
        };
        let idx = if first.is_empty() {
            arr.len()
        } else {
            first.parse::<usize>().map_err(|_| bad_key(key))?
        };
        if idx > arr.len() || idx > 10_000 {
            return Err(bad_key(key));
        }
        if idx == arr.len() {
            arr.push(if rest.is_empty() {
                Value::Null
            } else {
                Value::Object(Map::new())
            });
        }
        let slot = arr.get_mut(idx).ok_or_else(|| bad_key(key))?;
        if rest.is_empty() {
            *slot = Value::String(value);
            return Ok(());
        }
        return insert(slot, rest, value, key);
    }
    let Value::Object(map) = node else {
        return Err(bad_key(key));
    };
    if rest.is_empty() {
        if map.get(first).is_some_and(|v| !v.is_string()) {
            return Err(bad_key(key));
        }
        map.insert(first.clone(), Value::String(value));
        return Ok(());
    }
    let child = map
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if child.is_string() {
        return Err(bad_key(key));
    }
    insert(child, rest, value, key)
}

/// Percent-decoding with `+` as space, by the `percent-encoding` crate (the
/// decoder under `form_urlencoded`, whose own `parse` is lossy: it would turn
/// invalid UTF-8 into U+FFFD and a malformed escape into literal text,
/// silently changing a value). Both are errors here.
fn decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let malformed = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Err(ApiError::invalid(
            "",
            "body_invalid",
            "The request body has a malformed percent-escape.",
        ));
    }
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| ApiError::invalid("", "body_invalid", "The request body is not UTF-8."))
}

// ---- typed reads of parameters -------------------------------------------

/// A string parameter (a JSON number is accepted and printed).
pub fn param_str(v: &Value, name: &str) -> Result<Option<String>, ApiError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ApiError::invalid(
            name,
            "parameter_invalid_string",
            format!("Invalid string: {name}"),
        )),
    }
}

/// A non-negative integer parameter, `"1000"` or `1000`.
pub fn param_u64(v: &Value, name: &str, param: &str) -> Result<Option<u64>, ApiError> {
    let bad = || {
        ApiError::invalid(
            param,
            "parameter_invalid_integer",
            format!("Invalid integer: {param}"),
        )
    };
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => {
            if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<u64>().map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

/// A boolean parameter, `"true"`/`"false"` or a JSON boolean.
pub fn param_bool(v: &Value, name: &str, param: &str) -> Result<Option<bool>, ApiError> {
    let bad = || {
        ApiError::invalid(
            param,
            "parameter_invalid_boolean",
            format!("Invalid boolean: {param}"),
        )
    };
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// `metadata`: string keys to string values (numbers are printed); an empty
/// string value removes the key, as with Stripe.
pub fn param_metadata(
    v: &Value,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, ApiError> {
    let bad = |m: &str| ApiError::invalid(name, "parameter_invalid", m.to_owned());
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(Default::default())),
        Some(Value::Object(m)) => {
            if m.len() > 50 {
                return Err(bad("metadata can have at most 50 keys."));
            }
            let mut out = std::collections::BTreeMap::new();
            for (k, val) in m {
                if k.is_empty() || k.len() > 40 {
                    return Err(bad("metadata keys must be 1 to 40 characters long."));
                }
                let s = match val {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(bad("metadata values must be strings.")),
                };
                if s.len() > 500 {
                    return Err(bad("metadata values can be at most 500 characters long."));
                }
                out.insert(k.clone(), s);
            }
            Ok(Some(out))
        }
        Some(_) => Err(bad("metadata must be an object of strings.")),
    }
}

/// An object parameter (`name[key]=…`): `None` when absent, a 400 naming
/// `param` when it is not an object.
pub fn param_object<'a>(
    v: &'a Value,
    name: &str,
    param: &str,
) -> Result<Option<&'a Value>, ApiError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(o @ Value::Object(_)) => Ok(Some(o)),
        Some(_) => Err(ApiError::invalid(
            param,
            "parameter_invalid",
            format!("{param} must be an object."),
        )),
    }
}

/// Refuses any key of `v` outside `allowed` (Stripe does the same).
pub fn only_keys(v: &Value, prefix: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if let Value::Object(m) = v {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                return Err(ApiError::unknown_param(&name));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bracket_notation() {
        let v = parse_form(
            "amount=2000&currency=eur&metadata[order]=8812&payment_method_data[card][number]=4242+4242&expand[]=a&expand[]=b&x[0]=p&x[1]=q&n=%C3%A9",
        );
        let v = v.unwrap_or_default();
        assert_eq!(
            v,
            json!({"amount": "2000", "currency": "eur", "metadata": {"order": "8812"},
                   "payment_method_data": {"card": {"number": "4242 4242"}},
                   "expand": ["a", "b"], "x": ["p", "q"], "n": "é"})
        );
    }

    #[test]
    fn malformed_forms_are_errors_not_panics() {
        for bad in [
            "a[=1",
            "[x]=1",
            "a=%zz",
            "a=%",
            "a=1&a[b]=2",
            "a[b]=1&a=2",
            "a[5]=1",
            "a[]=1&a[x]=2",
            "a[][][][][][][][][][]=1",
        ] {
            assert!(parse_form(bad).is_err(), "{bad}");
        }
        assert!(parse_body(Some("application/json"), b"[1]").is_err());
        assert!(parse_body(Some("application/json"), b"{").is_err());
        assert!(parse_body(None, &[0xff, 0xfe]).is_err());
        assert_eq!(parse_body(None, b"").ok(), Some(json!({})));
        assert_eq!(
            parse_body(Some("application/json; charset=utf-8"), b"{\"a\":1}").ok(),
            Some(json!({"a": 1}))
        );
    }

    #[test]
    fn a_streamed_body_is_refused_at_the_limit() {
        let mut b = BodyBuffer::default();
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..(MAX_BODY / chunk.len()) {
            assert!(b.push(&chunk).is_ok());
        }
        assert_eq!(b.bytes().len(), MAX_BODY);
        let e = b.push(b"x").err().map(|e| (e.status, e.code.clone()));
        assert_eq!(e, Some((400, Some("body_too_large".to_owned()))));
        assert_eq!(b.bytes().len(), MAX_BODY, "nothing past the limit is kept");
    }

    /// Arbitrary bytes never panic the parsers (a deterministic sweep).
    #[test]
    fn arbitrary_bodies_never_panic() {
        let alphabet = b"ab[]=&%+0123456789xyz{}\":,\\\xc3\xa9\xff ";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..64 {
            for _ in 0..200 {
                let body: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let _ = parse_body(Some("application/x-www-form-urlencoded"), &body);
                let _ = parse_body(Some("application/json"), &body);
                let _ = parse_body(None, &body);
            }
        }
    }

    #[test]
    fn typed_params() {
        let v = json!({"a": "12", "b": 3, "c": "x", "t": "true", "f": false});
        assert_eq!(param_u64(&v, "a", "a").ok().flatten(), Some(12));
        assert_eq!(param_u64(&v, "b", "b").ok().flatten(), Some(3));
        assert!(param_u64(&v, "c", "c").is_err());
        assert_eq!(param_bool(&v, "t", "t").ok().flatten(), Some(true));
        assert_eq!(param_bool(&v, "f", "f").ok().flatten(), Some(false));
        assert!(param_bool(&v, "c", "c").is_err());
        assert_eq!(param_u64(&v, "zz", "zz").ok().flatten(), None);
    }

    mod no_panics {
        use super::super::*;
        use proptest::prelude::*;

        /// Pieces that bracket notation and percent-encoding are made of.
        fn form_text() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("a".to_owned()),
                Just("[".to_owned()),
                Just("]".to_owned()),
                Just("[]".to_owned()),
                Just("[0]".to_owned()),
                Just("[10001]".to_owned()),
                Just("=".to_owned()),
                Just("&".to_owned()),
                Just("%".to_owned()),
                Just("%5B".to_owned()),
                Just("%zz".to_owned()),
                Just("%ff".to_owned()),
                Just("+".to_owned()),
                Just("metadata".to_owned()),
                Just("amount=".to_owned()),
                Just("&currency=".to_owned()),
                Just("&confirm=true".to_owned()),
                Just("&capture_method=".to_owned()),
                Just("&payment_method=pm_card_visa".to_owned()),
                Just("&payment_method_data[type]=card".to_owned()),
                Just("&payment_method_data[card][exp_month]=".to_owned()),
                Just("&amount_to_capture=".to_owned()),
                Just("&payment_intent=".to_owned()),
                Just("&reason=".to_owned()),
                Just("-1".to_owned()),
                Just("99999999999999999999".to_owned()),
                Just("payment_method_data[card][number]=4242424242424242".to_owned()),
                "[a-z0-9]{0,3}",
                any::<char>().prop_map(String::from),
            ];
            prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// No body, however odd, panics the parser (a panic in wasm takes
            /// the isolate and every request in flight with it).
            #[test]
            fn forms_never_panic(text in form_text()) {
                let _ = parse_form(&text);
                let _ = parse_body(Some("application/x-www-form-urlencoded"), text.as_bytes());
                if let Ok(v) = parse_body(None, text.as_bytes()) {
                    // And what the handlers read from it: every endpoint's parameters.
                    let mut pm = || "pm_test".to_owned();
                    let _ = crate::params::create(&v, true, &mut pm);
                    let _ = crate::params::confirm(&v, true, &mut pm);
                    let _ = crate::params::capture(&v);
                    let _ = crate::params::cancel(&v);
                    let _ = crate::params::refund(&v);
                    let _ = crate::params::without_card_secrets(&v);
                    let _ = crate::preview::parse_request(&v);
                }
            }

            #[test]
            fn bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
                let _ = parse_body(Some("application/json"), &body);
                let _ = parse_body(Some("application/x-www-form-urlencoded"), &body);
            }
        }
    }
}
