//! Which services a typed filter offers, best first: the Deployments tab's service filter
//! (`service_filter.rs`) over thousands of services. Pure: `tests/service_filter.rs` checks it.

use std::cmp::Ordering;

/// A service the filter can pick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceChoice {
    /// Its id (what the URL keeps).
    pub id: String,
    /// Its display name (what the list shows).
    pub name: String,
    /// Name and id in lower case, for matching.
    key: String,
}

impl ServiceChoice {
    /// A service by id and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        let (id, name) = (id.into(), name.into());
        let key = format!("{}\n{}", name.to_lowercase(), id.to_lowercase());
        ServiceChoice { id, name, key }
    }
}

/// The services offered for `query`, at most `limit`, and how many match in all.
///
/// A service matches when its name or id contains the query (ignoring case and the spaces
/// around it). Those whose name or id starts with it come first, then those with a word that
/// does, then the rest; each group by name, numbers in names in their numeric order ("API 2"
/// before "API 10"). An empty query offers every service.
pub fn matching<'a>(
    services: &'a [ServiceChoice],
    query: &str,
    limit: usize,
) -> (Vec<&'a ServiceChoice>, usize) {
    let query = query.trim().to_lowercase();
    let mut found: Vec<(u8, &ServiceChoice)> = services
        .iter()
        .filter_map(|s| rank(&s.key, &query).map(|r| (r, s)))
        .collect();
    let total = found.len();
    let order = |a: &(u8, &ServiceChoice), b: &(u8, &ServiceChoice)| {
        a.0.cmp(&b.0)
            .then_with(|| natural(&a.1.name.to_lowercase(), &b.1.name.to_lowercase()))
            .then_with(|| a.1.id.cmp(&b.1.id))
    };
    // Only the first `limit` need their order: thousands of matches are not all sorted.
    if found.len() > limit && limit > 0 {
        found.select_nth_unstable_by(limit - 1, order);
    }
    found.truncate(limit);
    found.sort_by(order);
    (found.into_iter().map(|(_, s)| s).collect(), total)
}

/// 0: the name or id starts with the query; 1: a word of it does; 2: it contains the query;
/// none: no match. `key` is "name\nid" in lower case.
fn rank(key: &str, query: &str) -> Option<u8> {
    if query.is_empty() {
        return Some(0);
    }
    let mut best = None::<u8>;
    for part in key.split('\n') {
        for (at, _) in part.match_indices(query) {
            let r = if at == 0 {
                0
            } else if part[..at].ends_with(|c: char| !c.is_alphanumeric()) {
                1
            } else {
                2
            };
            best = Some(best.map_or(r, |b| b.min(r)));
        }
    }
    best
}

/// Compares two strings with runs of digits compared as numbers.
fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let nb = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let (da, db) = (
                    a[..na].trim_start_matches('0'),
                    b[..nb].trim_start_matches('0'),
                );
                let by_number = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
                if by_number != Ordering::Equal {
                    return by_number;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a = &a[x.len_utf8()..];
                b = &b[y.len_utf8()..];
            }
        }
    }
}
