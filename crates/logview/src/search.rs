//! Find in the log: a [`Query`] compiled into a [`Matcher`], run over every kept line of a
//! [`LogStore`] (not only the rows on screen) by a [`StoreSearch`], with match navigation.
//!
//! Search looks at each line's plain text (escapes removed), which the store keeps anyway,
//! so no lowercase copy of the log is made: case-insensitive search compares case-folded
//! chars on the fly instead of doubling the memory of a million-line log.
//!
//! A [`StoreSearch`] does not keep every match range either (a one-letter query over 1M lines
//! could yield tens of millions): it keeps, per matching line, its position and the number of
//! matches before it (16 bytes), and recomputes one line's ranges when they are needed (to
//! highlight a visible row or to jump to match *k*).

use crate::store::{LineFilter, LogStore};
use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

/// What the user typed in the search box, with its two toggles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The text or regular expression; empty matches nothing.
    pub pattern: String,
    /// Match case exactly.
    pub case_sensitive: bool,
    /// Read the pattern as a regular expression (regex-lite syntax).
    pub regex: bool,
}

impl Query {
    /// A case-insensitive plain-text query.
    pub fn text(pattern: impl Into<String>) -> Self {
        Query {
            pattern: pattern.into(),
            ..Query::default()
        }
    }

    /// A case-sensitive regular-expression query.
    pub fn regex(pattern: impl Into<String>) -> Self {
        Query {
            pattern: pattern.into(),
            case_sensitive: true,
            regex: true,
        }
    }

    /// Compiles the query; an invalid regular expression is an error, never a panic.
    pub fn compile(&self) -> Result<Matcher, SearchError> {
        Matcher::new(self)
    }
}

/// Why a query can't be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchError {
    /// The regular expression does not parse (or is too big); the message says why.
    InvalidRegex(String),
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchError::InvalidRegex(why) => write!(f, "invalid regular expression: {why}"),
        }
    }
}

impl std::error::Error for SearchError {}

/// A compiled query, ready to find matches in a line's plain text.
#[derive(Clone, Debug)]
pub struct Matcher {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// Empty pattern: no matches (rather than a match at every position).
    Nothing,
    /// Case-sensitive literal.
    Exact(String),
    /// Case-insensitive literal made of ASCII only: compared byte by byte, lowercased.
    AsciiFold(Vec<u8>),
    /// Case-insensitive literal with non-ASCII chars: compared char by lowercased char.
    UnicodeFold(Vec<char>),
    /// Regular expression. regex-lite folds ASCII case only (no Unicode tables, by design).
    /// regex-lite has no literal optimisations (about 1 µs a line natively), so a literal
    /// every match must contain, when one is known, rejects most lines first (a million
    /// lines: ~1 s -> ~70 ms natively for `step 99999\d `).
    Regex {
        re: regex_lite::Regex,
        prefilter: Option<Box<Kind>>,
    },
}

impl Matcher {
    /// Compiles a query (same as [`Query::compile`]).
    pub fn new(query: &Query) -> Result<Matcher, SearchError> {
        let pattern = query.pattern.as_str();
        let kind = if pattern.is_empty() {
            Kind::Nothing
        } else if query.regex {
            let re = regex_lite::RegexBuilder::new(pattern)
                .case_insensitive(!query.case_sensitive)
                .build()
                .map_err(|e| SearchError::InvalidRegex(e.to_string()))?;
            let prefilter = required_literal(pattern, query.case_sensitive).map(|lit| {
                Box::new(if query.case_sensitive {
                    Kind::Exact(lit)
                } else {
                    Kind::AsciiFold(lit.to_ascii_lowercase().into_bytes())
                })
            });
            Kind::Regex { re, prefilter }
        } else if query.case_sensitive {
            Kind::Exact(pattern.to_owned())
        } else if pattern.is_ascii() {
            Kind::AsciiFold(pattern.to_ascii_lowercase().into_bytes())
        } else {
            Kind::UnicodeFold(pattern.chars().flat_map(char::to_lowercase).collect())
        };
        Ok(Matcher { kind })
    }

    /// True if this matcher can never match (empty pattern).
    pub fn matches_nothing(&self) -> bool {
        matches!(self.kind, Kind::Nothing)
    }

    /// The byte ranges of the matches in a text: in order, non-overlapping, on char
    /// boundaries, never empty.
    pub fn find_in(&self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        self.for_each(text, |r| {
            out.push(r);
            true
        });
        out
    }

    /// How many matches a text has (no allocation: the hot path of a whole-log search).
    pub fn count_in(&self, text: &str) -> usize {
        let mut count = 0;
        self.for_each(text, |_| {
            count += 1;
            true
        });
        count
    }

    /// True if the text has at least one match.
    pub fn is_match(&self, text: &str) -> bool {
        let mut found = false;
        self.for_each(text, |_| {
            found = true;
            false
        });
        found
    }

    /// Calls `f` with each match until it returns false.
    fn for_each(&self, text: &str, f: impl FnMut(Range<usize>) -> bool) {
        self.kind.for_each(text, f);
    }
}

impl Kind {
    /// For the literal kinds (prefilters): true if the text contains the literal.
    /// (Not via `for_each`: a generic call from inside it would never stop instantiating.)
    fn literal_is_in(&self, text: &str) -> bool {
        match self {
            Kind::Exact(needle) => text.contains(needle.as_str()),
            Kind::AsciiFold(needle) => {
                let mut found = false;
                ascii_fold_matches(text.as_bytes(), needle, |_| {
                    found = true;
                    false
                });
                found
            }
            // Not built as prefilters; answering true only costs the skipped shortcut.
            Kind::Nothing | Kind::UnicodeFold(_) | Kind::Regex { .. } => true,
        }
    }

    fn for_each(&self, text: &str, mut f: impl FnMut(Range<usize>) -> bool) {
        match self {
            Kind::Nothing => {}
            Kind::Exact(needle) => {
                for (start, m) in text.match_indices(needle.as_str()) {
                    if !f(start..start + m.len()) {
                        return;
                    }
                }
            }
            Kind::AsciiFold(needle) => ascii_fold_matches(text.as_bytes(), needle, f),
            Kind::UnicodeFold(needle) => unicode_fold_matches(text, needle, f),
            Kind::Regex { re, prefilter } => {
                if prefilter.as_deref().is_some_and(|p| !p.literal_is_in(text)) {
                    return;
                }
                for m in re.find_iter(text) {
                    if m.start() < m.end() && !f(m.start()..m.end()) {
                        return;
                    }
                }
            }
        }
    }
}

/// The longest run of literal chars that every match of a regex must contain, when the
/// pattern's shape makes that certain; `None` otherwise (no prefilter, never a missed match).
///
/// Certain means: no alternation and no inline flags anywhere (either could make a literal
/// optional or change how it matches), and only chars at the top level, outside groups,
/// not escaped and not under a quantifier. Scanning stops at the first construct it does not
/// model (`[`, `{`, a longer escape such as `\x41`): the top level is a plain concatenation,
/// so what came before stays required whatever follows. Case-insensitive runs are ASCII
/// only, matching regex-lite's ASCII-only case folding.
fn required_literal(pattern: &str, case_sensitive: bool) -> Option<String> {
    if pattern.contains('|') || pattern.contains("(?") {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut best = String::new();
    let mut run = String::new();
    let mut end_run = |run: &mut String| {
        if run.chars().count() > best.chars().count() {
            best = std::mem::take(run);
        } else {
            run.clear();
        }
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let quantified = matches!(chars.get(i + 1), Some('?' | '*' | '+' | '{'));
        match c {
            '[' | '{' | '}' | ']' => break,
            '\\' => {
                // One-char escapes (`\d`, `\s`, `\b`, `\n`, ...) and escaped punctuation take
                // exactly two chars; others (`\x41`, `\u{..}`, `\p{..}`) take more: stop there.
                let two_chars = |e: &char| !e.is_alphanumeric() || "dDsSwWbBAznrtfv".contains(*e);
                if !chars.get(i + 1).is_some_and(two_chars) {
                    break;
                }
                end_run(&mut run);
                i += 2;
                continue;
            }
            '(' => {
                end_run(&mut run);
                depth += 1;
            }
            ')' => {
                end_run(&mut run);
                depth = depth.saturating_sub(1);
            }
            '.' | '^' | '$' | '?' | '*' | '+' => end_run(&mut run),
            _ if depth > 0 || quantified || (!case_sensitive && !c.is_ascii()) => end_run(&mut run),
            _ => run.push(c),
        }
        i += 1;
    }
    end_run(&mut run);
    (!best.is_empty()).then_some(best)
}

/// Case-insensitive search of an ASCII needle (lowercase). Matches start and end on char
/// boundaries: an ASCII byte is never part of a multi-byte UTF-8 char.
fn ascii_fold_matches(hay: &[u8], needle: &[u8], mut f: impl FnMut(Range<usize>) -> bool) {
    let Some(&first) = needle.first() else {
        return;
    };
    let first_upper = first.to_ascii_uppercase();
    let n = needle.len();
    let mut i = 0;
    while i + n <= hay.len() {
        let b = hay[i];
        if (b == first || b == first_upper) && hay[i + 1..i + n].eq_ignore_ascii_case(&needle[1..])
        {
            if !f(i..i + n) {
                return;
            }
            i += n;
        } else {
            i += 1;
        }
    }
}

/// Case-insensitive search of a needle with non-ASCII chars: at each char boundary, compare
/// the text's lowercased chars (one char may lowercase to several) with the needle's.
fn unicode_fold_matches(text: &str, needle: &[char], mut f: impl FnMut(Range<usize>) -> bool) {
    let mut start = 0;
    while start < text.len() {
        if let Some(end) = unicode_fold_match_at(text, start, needle) {
            if !f(start..end) {
                return;
            }
            start = end;
        } else {
            start += text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
}

/// The end of a match of `needle` starting at `start`, if there is one that ends on a char
/// boundary (a char whose lowercase form only half matches the needle's end doesn't count).
fn unicode_fold_match_at(text: &str, start: usize, needle: &[char]) -> Option<usize> {
    let mut k = 0;
    for (offset, c) in text[start..].char_indices() {
        if k == needle.len() {
            return Some(start + offset);
        }
        for lower in c.to_lowercase() {
            if needle.get(k) != Some(&lower) {
                return None;
            }
            k += 1;
        }
    }
    (k == needle.len()).then_some(text.len())
}

/// Which way to move from the current match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Enter / the down arrow.
    Next,
    /// Shift+Enter / the up arrow.
    Previous,
}

/// The match to go to from `current` among `count`, wrapping around at both ends; with no
/// current match (or one beyond the count, after the results shrank), Next goes to the first
/// and Previous to the last. `None` when there are no matches.
pub fn step(current: Option<usize>, count: usize, direction: Direction) -> Option<usize> {
    if count == 0 {
        return None;
    }
    Some(match (current.filter(|&c| c < count), direction) {
        (None, Direction::Next) => 0,
        (None, Direction::Previous) => count - 1,
        (Some(c), Direction::Next) => (c + 1) % count,
        (Some(c), Direction::Previous) => (c + count - 1) % count,
    })
}

/// One match: the line's current index in the store and the byte range in its plain text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index of the line in the store (`0..store.len()`).
    pub line: usize,
    /// Byte range in the line's plain text.
    pub range: Range<usize>,
}

/// A matching line: its store position and the number of matches before it since the
/// search started (so match *k* is found by binary search).
#[derive(Clone, Copy, Debug)]
struct LineHits {
    position: u64,
    before: u64,
}

/// A search over a whole store, kept up to date as lines arrive and are evicted.
///
/// Call [`StoreSearch::update`] after pushing lines (it scans only the new ones and forgets
/// evicted ones); or [`StoreSearch::update_some`] to spread a first scan of a huge log over
/// several frames.
#[derive(Clone, Debug)]
pub struct StoreSearch {
    matcher: Matcher,
    filter: LineFilter,
    store_id: u64,
    lines: VecDeque<LineHits>,
    /// Position up to which lines have been scanned.
    scanned: u64,
    /// Matches counted since the search started (evicted lines' included).
    total: u64,
}

impl StoreSearch {
    /// A search of every line, not yet run.
    pub fn new(matcher: Matcher) -> Self {
        StoreSearch::with_filter(matcher, LineFilter::default())
    }

    /// A search of the lines passing a filter (e.g. the stage being viewed), not yet run.
    pub fn with_filter(matcher: Matcher, filter: LineFilter) -> Self {
        StoreSearch {
            matcher,
            filter,
            store_id: 0,
            lines: VecDeque::new(),
            scanned: 0,
            total: 0,
        }
    }

    /// Compiles and runs a search over all of a store's lines.
    pub fn run(query: &Query, store: &LogStore) -> Result<Self, SearchError> {
        let mut search = StoreSearch::new(query.compile()?);
        search.update(store);
        Ok(search)
    }

    /// The matcher (to highlight matches in rows).
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Scans the lines pushed since the last update and forgets evicted ones.
    pub fn update(&mut self, store: &LogStore) {
        self.update_some(store, usize::MAX);
    }

    /// Like [`Self::update`] but scans at most `max_lines` lines; returns true when
    /// the search is complete. Meanwhile, counts and navigation cover the scanned part.
    pub fn update_some(&mut self, store: &LogStore, max_lines: usize) -> bool {
        if store.id() != self.store_id || self.scanned > store.end_position() {
            // Another store (or one rebuilt): start over.
            self.store_id = store.id();
            self.lines.clear();
            self.total = 0;
            self.scanned = store.first_position();
        }
        let first = store.first_position();
        while self.lines.front().is_some_and(|h| h.position < first) {
            self.lines.pop_front();
        }
        self.scanned = self.scanned.max(first);
        let end = store.end_position();
        let stop = end.min(self.scanned.saturating_add(max_lines as u64));
        if self.matcher.matches_nothing() {
            self.scanned = end;
            return true;
        }
        let filtered = !self.filter.is_all();
        for position in self.scanned..stop {
            let Some(index) = store.index_of_position(position) else {
                continue;
            };
            if filtered && !store.line(index).is_some_and(|l| self.filter.accepts(&l)) {
                continue;
            }
            let count = store.plain(index).map_or(0, |t| self.matcher.count_in(t)) as u64;
            if count > 0 {
                self.lines.push_back(LineHits {
                    position,
                    before: self.total,
                });
                self.total += count;
            }
        }
        self.scanned = stop;
        stop == end
    }

    /// True once every kept line has been scanned (see [`Self::update_some`]).
    pub fn is_complete(&self, store: &LogStore) -> bool {
        store.id() == self.store_id && self.scanned == store.end_position()
    }

    /// Number of matches in the kept lines.
    pub fn count(&self) -> usize {
        (self.total - self.base()) as usize
    }

    /// Number of lines with at least one match.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Matches counted before the first kept matching line (those of evicted lines).
    fn base(&self) -> u64 {
        self.lines.front().map_or(self.total, |h| h.before)
    }

    /// Matches that were on lines evicted since the search started: match numbers shift down
    /// by the growth of this figure when lines are evicted.
    pub fn evicted_matches(&self) -> u64 {
        self.base()
    }

    /// The store position of the line holding match `k` (no text is searched).
    pub fn position_of(&self, k: usize) -> Option<u64> {
        if k >= self.count() {
            return None;
        }
        let target = self.base() + k as u64;
        let i = self
            .lines
            .partition_point(|h| h.before <= target)
            .checked_sub(1)?;
        Some(self.lines[i].position)
    }

    /// True if the line at a store index has a match (a binary search, no text searched).
    pub fn has_matches(&self, store: &LogStore, line: usize) -> bool {
        let position = store.first_position() + line as u64;
        self.lines
            .binary_search_by_key(&position, |h| h.position)
            .is_ok()
    }

    /// Match number `k` (0-based, in log order).
    pub fn get(&self, store: &LogStore, k: usize) -> Option<Hit> {
        if k >= self.count() {
            return None;
        }
        let target = self.base() + k as u64;
        let i = self
            .lines
            .partition_point(|h| h.before <= target)
            .checked_sub(1)?;
        let hits = self.lines[i];
        let line = store.index_of_position(hits.position)?;
        let range = self
            .matcher
            .find_in(store.plain(line)?)
            .into_iter()
            .nth((target - hits.before) as usize)?;
        Some(Hit { line, range })
    }

    /// Every match in log order, as (line index, range); ranges are computed line by line
    /// as the iterator advances.
    pub fn iter<'a>(&'a self, store: &'a LogStore) -> impl Iterator<Item = Hit> + 'a {
        self.matching_lines(store).flat_map(move |line| {
            let ranges = store
                .plain(line)
                .map_or_else(Vec::new, |t| self.matcher.find_in(t));
            ranges.into_iter().map(move |range| Hit { line, range })
        })
    }

    /// The store indices of the lines with matches, in order.
    pub fn matching_lines<'a>(&'a self, store: &'a LogStore) -> impl Iterator<Item = usize> + 'a {
        self.lines
            .iter()
            .filter_map(move |h| store.index_of_position(h.position))
    }

    /// The matches on one line (to highlight a visible row): the index of its first match
    /// (to tell which one is current) and its ranges. `None` if the line has no match.
    pub fn line_matches(
        &self,
        store: &LogStore,
        line: usize,
    ) -> Option<(usize, Vec<Range<usize>>)> {
        let position = store.first_position() + line as u64;
        let i = self
            .lines
            .binary_search_by_key(&position, |h| h.position)
            .ok()?;
        let ranges = self.matcher.find_in(store.plain(line)?);
        Some(((self.lines[i].before - self.base()) as usize, ranges))
    }

    /// The first match on or after a line (e.g. the top visible row when a search starts),
    /// wrapping to the first match; `None` if there are no matches.
    pub fn first_at_or_after(&self, store: &LogStore, line: usize) -> Option<usize> {
        if self.count() == 0 {
            return None;
        }
        let position = store.first_position() + line as u64;
        let i = self.lines.partition_point(|h| h.position < position);
        Some(
            self.lines
                .get(i)
                .map_or(0, |h| (h.before - self.base()) as usize),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StageId, StoreLimits};
    use shipwatch_model::{LogLevel, LogLine};

    fn matcher(pattern: &str, case_sensitive: bool, regex: bool) -> Matcher {
        Query {
            pattern: pattern.into(),
            case_sensitive,
            regex,
        }
        .compile()
        .unwrap()
    }

    fn store_of(texts: &[&str]) -> LogStore {
        let mut store = LogStore::new();
        for (i, t) in texts.iter().enumerate() {
            store.push(LogLine {
                n: i as u64 + 1,
                ts: 0,
                stage: if i % 2 == 0 { "build" } else { "test" }.into(),
                level: LogLevel::Info,
                text: (*t).into(),
                hint: None,
            });
        }
        store
    }

    #[test]
    fn literal_search_is_case_insensitive_by_default() {
        let m = Query::text("error").compile().unwrap();
        assert_eq!(
            m.find_in("ERROR: npm ERR! code ELIFECYCLE error"),
            vec![0..5, 32..37]
        );
        assert_eq!(m.count_in("no problems"), 0);
        assert!(m.is_match("Error"));
        let m = matcher("Error", true, false);
        assert_eq!(m.find_in("ERROR Error error"), vec![6..11]);
    }

    #[test]
    fn matches_do_not_overlap() {
        assert_eq!(
            Query::text("aa").compile().unwrap().find_in("aaaaa"),
            vec![0..2, 2..4]
        );
        assert_eq!(
            matcher("aa", true, false).find_in("aaaaa"),
            vec![0..2, 2..4]
        );
    }

    #[test]
    fn unicode_case_folding_for_literals() {
        let m = Query::text("ÉCHEC").compile().unwrap();
        assert_eq!(
            m.find_in("le déploiement: échec, Échec"),
            vec![17..23, 25..31]
        );
        // One char lowercasing to two ('İ' -> "i̇") must not produce a half-char match.
        let m = Query::text("i\u{307}x").compile().unwrap();
        assert_eq!(m.find_in("İx"), vec![0..3]);
        let m = Query::text("ü").compile().unwrap();
        assert_eq!(m.find_in("Über müde"), vec![0..2, 7..9]);
        for r in m.find_in("Über müde") {
            assert!("Über müde".is_char_boundary(r.start) && "Über müde".is_char_boundary(r.end));
        }
        // ASCII needle over multi-byte text lands on char boundaries.
        let m = Query::text("b").compile().unwrap();
        assert_eq!(m.find_in("ébé"), vec![2..3]);
    }

    #[test]
    fn regex_search() {
        let m = Query::regex(r"\d+ms").compile().unwrap();
        assert_eq!(m.find_in("took 120ms, then 3ms"), vec![5..10, 17..20]);
        let m = matcher(r"err(or)?", false, true);
        assert_eq!(m.find_in("npm ERR! Error"), vec![4..7, 9..14]);
        // Empty matches are skipped.
        let m = Query::regex("x*").compile().unwrap();
        assert_eq!(m.find_in("abxxc"), vec![2..4]);
        assert_eq!(m.count_in("abc"), 0);
    }

    #[test]
    fn required_literals_of_regexes() {
        assert_eq!(
            required_literal(r"step 4\d+ failed", true).as_deref(),
            Some(" failed")
        );
        assert_eq!(
            required_literal(r"^ERROR: (.*) exit code", true).as_deref(),
            Some(" exit code")
        );
        assert_eq!(
            required_literal(r"timeouts?", true).as_deref(),
            Some("timeout")
        );
        assert_eq!(required_literal(r"a(bcdef)?g", true).as_deref(), Some("a"));
        assert_eq!(required_literal(r"err\.log", true).as_deref(), Some("err"));
        assert_eq!(required_literal(r"ab\x41cdef", true).as_deref(), Some("ab"));
        assert_eq!(
            required_literal(r"abc[xyz]defgh", true).as_deref(),
            Some("abc")
        );
        assert_eq!(required_literal(r"ab{2}cd", true).as_deref(), Some("a"));
        assert_eq!(required_literal(r"échec", false).as_deref(), Some("chec"));
        assert_eq!(required_literal(r"échec", true).as_deref(), Some("échec"));
        assert_eq!(required_literal(r"warn|error", true), None);
        assert_eq!(required_literal(r"(?i)error", true), None);
        assert_eq!(required_literal(r".*", true), None);
        // The prefilter is used and right, case-insensitively too.
        let m = matcher(r"exit code \d+", false, true);
        assert_eq!(m.find_in("ERROR: EXIT CODE 137"), vec![7..20]);
        assert!(m.find_in("exit status 1").is_empty());
    }

    proptest::proptest! {
        /// With or without the prefilter, a regex finds the same matches.
        #[test]
        fn prefilter_never_changes_results(
            pattern in r"[abdsx1 ,.()|?*+{}\[\]^$\\]{1,12}",
            text in "[abdsx1 ,.()]{0,16}",
            case_sensitive in proptest::bool::ANY,
        ) {
            let query = Query { pattern, case_sensitive, regex: true };
            let Ok(with) = query.compile() else { return Ok(()); };
            let Kind::Regex { re, .. } = &with.kind else { panic!("not a regex") };
            let without = Matcher { kind: Kind::Regex { re: re.clone(), prefilter: None } };
            proptest::prop_assert_eq!(with.find_in(&text), without.find_in(&text));
            let upper = text.to_ascii_uppercase();
            proptest::prop_assert_eq!(with.find_in(&upper), without.find_in(&upper));
        }
    }

    #[test]
    fn invalid_regex_is_an_error_value() {
        let err = Query::regex("(unclosed").compile().unwrap_err();
        assert!(matches!(err, SearchError::InvalidRegex(_)));
        assert!(err.to_string().starts_with("invalid regular expression"));
        assert!(Query::regex("[z-a]").compile().is_err());
        // The same text as a literal is fine.
        assert_eq!(
            Query::text("(unclosed")
                .compile()
                .unwrap()
                .find_in("a (unclosed"),
            vec![2..11]
        );
    }

    #[test]
    fn empty_pattern_matches_nothing() {
        let m = Query::text("").compile().unwrap();
        assert!(m.matches_nothing());
        assert!(m.find_in("anything").is_empty());
        assert!(Query::regex("").compile().unwrap().find_in("x").is_empty());
    }

    #[test]
    fn step_wraps_around() {
        assert_eq!(step(None, 0, Direction::Next), None);
        assert_eq!(step(None, 3, Direction::Next), Some(0));
        assert_eq!(step(None, 3, Direction::Previous), Some(2));
        assert_eq!(step(Some(2), 3, Direction::Next), Some(0));
        assert_eq!(step(Some(0), 3, Direction::Previous), Some(2));
        assert_eq!(step(Some(1), 3, Direction::Next), Some(2));
        assert_eq!(step(Some(9), 3, Direction::Next), Some(0));
        assert_eq!(step(Some(9), 3, Direction::Previous), Some(2));
    }

    #[test]
    fn store_search_finds_all_lines_and_navigates() {
        let store = store_of(&[
            "\x1b[1;31mERROR\x1b[0m first error",
            "all good",
            "error again, error",
            "fine",
        ]);
        let search = StoreSearch::run(&Query::text("error"), &store).unwrap();
        assert_eq!(search.count(), 4);
        assert_eq!(search.line_count(), 2);
        let hits: Vec<Hit> = search.iter(&store).collect();
        assert_eq!(
            hits,
            vec![
                Hit {
                    line: 0,
                    range: 0..5
                },
                Hit {
                    line: 0,
                    range: 12..17
                },
                Hit {
                    line: 2,
                    range: 0..5
                },
                Hit {
                    line: 2,
                    range: 13..18
                },
            ]
        );
        for (k, hit) in hits.iter().enumerate() {
            assert_eq!(search.get(&store, k).as_ref(), Some(hit));
        }
        assert_eq!(search.get(&store, 4), None);
        assert_eq!(
            search.line_matches(&store, 2),
            Some((2, vec![0..5, 13..18]))
        );
        assert_eq!(search.line_matches(&store, 1), None);
        assert_eq!(search.first_at_or_after(&store, 1), Some(2));
        assert_eq!(search.first_at_or_after(&store, 3), Some(0));
        assert_eq!(
            search.matching_lines(&store).collect::<Vec<_>>(),
            vec![0, 2]
        );
    }

    #[test]
    fn store_search_follows_new_and_evicted_lines() {
        let mut store = LogStore::with_limits(StoreLimits {
            max_lines: 4,
            ..StoreLimits::default()
        });
        let mut search = StoreSearch::new(Query::text("hit").compile().unwrap());
        let push = |store: &mut LogStore, n: u64, text: &str| {
            store.push(LogLine {
                n,
                ts: 0,
                stage: "build".into(),
                level: LogLevel::Info,
                text: text.into(),
                hint: None,
            });
        };
        push(&mut store, 1, "hit hit");
        push(&mut store, 2, "miss");
        search.update(&store);
        assert_eq!(search.count(), 2);
        push(&mut store, 3, "hit");
        push(&mut store, 4, "miss");
        push(&mut store, 5, "hit");
        search.update(&store);
        // Line 1 was evicted with its two matches.
        assert_eq!(search.count(), 2);
        assert_eq!(
            search.get(&store, 0),
            Some(Hit {
                line: 1,
                range: 0..3
            })
        );
        assert_eq!(
            search.get(&store, 1),
            Some(Hit {
                line: 3,
                range: 0..3
            })
        );
        assert!(search.is_complete(&store));
        // Pointed at another store, it starts over.
        let other = store_of(&["hit"]);
        search.update(&other);
        assert_eq!(search.count(), 1);
    }

    #[test]
    fn store_search_in_chunks_and_with_a_filter() {
        let store = store_of(&["x1", "x2", "x3", "x4", "x5"]);
        let mut search = StoreSearch::new(Query::text("x").compile().unwrap());
        assert!(!search.update_some(&store, 2));
        assert_eq!(search.count(), 2);
        assert!(!search.is_complete(&store));
        assert!(!search.update_some(&store, 2));
        assert!(search.update_some(&store, 2));
        assert_eq!(search.count(), 5);
        let filter = LineFilter {
            stage: Some(StageId(1)),
            problems_only: false,
        };
        let mut search = StoreSearch::with_filter(Query::text("x").compile().unwrap(), filter);
        search.update(&store);
        assert_eq!(
            search.matching_lines(&store).collect::<Vec<_>>(),
            vec![1, 3]
        );
    }

    #[test]
    fn a_million_lines_are_searched() {
        // Runs the whole-log path at the size the viewer must handle; no timing asserted.
        let mut store = LogStore::with_limits(StoreLimits {
            max_lines: 1_000_000,
            max_bytes: usize::MAX,
            ..StoreLimits::default()
        });
        for n in 1..=1_000_000u64 {
            let text = if n % 1000 == 0 {
                format!("\x1b[31mERROR\x1b[0m step {n} failed")
            } else {
                format!("step {n} ok")
            };
            store.push(LogLine {
                n,
                ts: n,
                stage: "build".into(),
                level: LogLevel::Info,
                text,
                hint: None,
            });
        }
        assert_eq!(store.len(), 1_000_000);
        let started = std::time::Instant::now();
        let search = StoreSearch::run(&Query::text("error"), &store).unwrap();
        // Shown with --nocapture; informative only (debug builds are much slower).
        eprintln!("1M-line literal search: {:?}", started.elapsed());
        assert_eq!(search.count(), 1_000);
        assert_eq!(search.get(&store, 999).map(|h| h.line), Some(999_999));
        let started = std::time::Instant::now();
        let search = StoreSearch::run(&Query::regex(r"step 99999\d "), &store).unwrap();
        eprintln!("1M-line regex search: {:?}", started.elapsed());
        assert_eq!(search.count(), 10);
        let search = StoreSearch::run(&Query::text("ok"), &store).unwrap();
        assert_eq!(search.count(), 999_000);
    }
}
