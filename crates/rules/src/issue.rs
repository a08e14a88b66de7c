//! Problems found in a rule set or a payment: every one at once, each with a
//! JSON Pointer, a stable code and a sentence.

use serde::Serialize;

/// One problem, at `path` (RFC 6901) in the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub path: String,
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The answer of `validate`: never an `Err`, whatever the input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Validation {
    pub ok: bool,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

/// What the caller knows beyond the rule set itself.
#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    /// The known processor ids; when given, any other id is an error.
    pub processors: Option<Vec<String>>,
}

/// A JSON Pointer under construction.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pointer(pub(crate) String);

impl Pointer {
    pub(crate) fn root() -> Pointer {
        Pointer(String::new())
    }
    pub(crate) fn key(&self, k: &str) -> Pointer {
        let mut s = String::with_capacity(self.0.len() + k.len() + 1);
        s.push_str(&self.0);
        s.push('/');
        for c in k.chars() {
            match c {
                '~' => s.push_str("~0"),
                '/' => s.push_str("~1"),
                c => s.push(c),
            }
        }
        Pointer(s)
    }
    pub(crate) fn idx(&self, i: usize) -> Pointer {
        // Digits by hand: `format!` here was a tenth of compiling a large set.
        let mut digits = [0u8; 20];
        let (mut n, mut at) = (i, digits.len());
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut s = String::with_capacity(self.0.len() + 1 + digits.len() - at);
        s.push_str(&self.0);
        s.push('/');
        s.extend(digits[at..].iter().map(|d| char::from(*d)));
        Pointer(s)
    }
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects issues while a walker goes through the input.
#[derive(Default)]
pub(crate) struct Issues {
    pub(crate) errors: Vec<Issue>,
    pub(crate) warnings: Vec<Issue>,
}

impl Issues {
    pub(crate) fn error(&mut self, at: &Pointer, code: &'static str, message: impl Into<String>) {
        self.errors.push(Issue {
            path: at.as_str().to_owned(),
            code,
            message: message.into(),
        });
    }
    pub(crate) fn warn(&mut self, at: &Pointer, code: &'static str, message: impl Into<String>) {
        self.warnings.push(Issue {
            path: at.as_str().to_owned(),
            code,
            message: message.into(),
        });
    }
}

/// The nearest candidate to `word`, if it is near enough to be a likely
/// misspelling (Levenshtein distance at most a third of the length, min 2).
pub(crate) fn nearest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = word.to_ascii_lowercase();
    let limit = (w.chars().count() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let lc = c.to_ascii_lowercase();
        // A word that begins the candidate (`adyen` for `adyen_eu`) is near.
        let d = if w.len() >= 3 && lc.starts_with(&w) {
            1
        } else {
            levenshtein(&w, &lc)
        };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

/// " (did you mean `x`?)" or nothing.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match nearest(word, candidates) {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => String::new(),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(128).collect();
    let b: Vec<char> = b.chars().take(128).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape() {
        assert_eq!(
            Pointer::root().key("a/b").key("m~n").idx(3).as_str(),
            "/a~1b/m~0n/3"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            nearest("card.contry", ["card.country", "currency"]),
            Some("card.country".into())
        );
        assert_eq!(nearest("zzzzzz", ["card.country", "currency"]), None);
    }
}
