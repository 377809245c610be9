//! Which cases run: `--filter` (name substring or glob, or `tag:NAME`) and `--partition slice:M/N` for CI sharding.

use crate::lab::Lab;

/// A case filter from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `*` and `?` glob over `LAB › CASE` and over the case name alone.
    Glob(String),
    /// Case-insensitive substring of the case name or the lab name.
    Substring(String),
    /// `tag:NAME`: the case or its lab carries this tag.
    Tag(String),
}

impl Filter {
    /// The filter a `--filter` value means: `tag:NAME` a tag, text with `*` or `?` a glob, any
    /// other text a case-insensitive substring. Every text is a filter, so this cannot fail.
    pub fn parse(s: &str) -> Filter {
        if let Some(tag) = s.strip_prefix("tag:") {
            Filter::Tag(tag.to_string())
        } else if s.contains(['*', '?']) {
            Filter::Glob(s.to_string())
        } else {
            Filter::Substring(s.to_lowercase())
        }
    }

    /// Whether `case` of the lab named `lab` is selected by this filter.
    pub fn matches(&self, lab: &str, case: &crate::lab::Case) -> bool {
        let tags = &case.tags;
        let case = case.name.as_str();
        match self {
            Filter::Tag(t) => tags.iter().any(|x| x == t),
            Filter::Glob(g) => {
                glob(g, case)
                    || glob(g, &format!("{lab} › {case}"))
                    || glob(g, &format!("{lab}/{case}"))
            }
            Filter::Substring(s) => {
                case.to_lowercase().contains(s) || lab.to_lowercase().contains(s)
            }
        }
    }
}

/// `slice:M/N`: the M-th of N disjoint slices (1-based) that together cover every selected case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub m: usize,
    pub n: usize,
}

/// A `--partition` value that is not `slice:M/N` with 1 <= M <= N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a partition: write `slice:M/N` with 1 <= M <= N, e.g. `slice:2/4`")]
pub struct PartitionError {
    /// The value given.
    pub text: String,
}

impl std::str::FromStr for Partition {
    type Err = PartitionError;

    /// Parses `slice:M/N`; errors with [`PartitionError`] on anything else, or when M is 0 or over N.
    fn from_str(s: &str) -> Result<Partition, PartitionError> {
        let why = || PartitionError {
            text: s.to_string(),
        };
        let rest = s.strip_prefix("slice:").ok_or_else(why)?;
        let (m, n) = rest.split_once('/').ok_or_else(why)?;
        let (m, n): (usize, usize) = (
            m.trim().parse().map_err(|_| why())?,
            n.trim().parse().map_err(|_| why())?,
        );
        if m == 0 || n == 0 || m > n {
            return Err(why());
        }
        Ok(Partition { m, n })
    }
}

/// The labs `run` and `list` work on: `select` with the `--filter` values parsed by
/// [`Filter::parse`]. Labs left without checks or cases are dropped; an empty result means nothing
/// matched.
pub fn selected(labs: Vec<Lab>, filters: &[String], partition: Option<Partition>) -> Vec<Lab> {
    let filters: Vec<Filter> = filters.iter().map(|f| Filter::parse(f)).collect();
    select(labs, &filters, partition)
}

/// Keeps the cases that match every filter (any filter when several are given) and fall in the partition.
///
/// Cases are numbered over all labs in order after filtering; case k belongs to slice `k mod N + 1`.
/// Labs left without cases are dropped.
pub fn select(labs: Vec<Lab>, filters: &[Filter], partition: Option<Partition>) -> Vec<Lab> {
    let mut k = 0usize;
    labs.into_iter()
        .filter_map(|mut lab| {
            let name = lab.name.clone();
            // Checks are selected like cases (by name; they carry no tags), and numbered before them.
            lab.checks.retain(|c| {
                if !filters.is_empty()
                    && !filters.iter().any(|f| match f {
                        Filter::Tag(_) => false,
                        Filter::Glob(g) => {
                            glob(g, &c.name) || glob(g, &format!("{name} › {}", c.name))
                        }
                        Filter::Substring(s) => {
                            c.name.to_lowercase().contains(s) || name.to_lowercase().contains(s)
                        }
                    })
                {
                    return false;
                }
                let keep = partition.is_none_or(|p| k % p.n + 1 == p.m);
                k += 1;
                keep
            });
            lab.cases.retain(|c| {
                if !filters.is_empty() && !filters.iter().any(|f| f.matches(&name, c)) {
                    return false;
                }
                let keep = partition.is_none_or(|p| k % p.n + 1 == p.m);
                k += 1;
                keep
            });
            (!lab.cases.is_empty() || !lab.checks.is_empty()).then_some(lab)
        })
        .collect()
}

/// Whether `text` matches `pattern` as a whole: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob("expired*", "expired client"));
        assert!(glob("*client*", "expired client is rejected"));
        assert!(!glob("expired", "expired client"));
        assert!(glob("seed-mtls › *", "seed-mtls › valid"));
        assert!(glob("t?st", "test"));
    }

    #[test]
    fn partitions_parse() {
        assert_eq!(
            "slice:2/4".parse::<Partition>(),
            Ok(Partition { m: 2, n: 4 })
        );
        assert!("slice:0/4".parse::<Partition>().is_err());
        assert!("slice:5/4".parse::<Partition>().is_err());
        assert!("2/4".parse::<Partition>().is_err());
    }
}
