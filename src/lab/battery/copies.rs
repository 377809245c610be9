//! Naming a battery's derived copies: one shared between written cases only when it is the same
//! declaration, else a name of its own (`NAME-2`, …).

/// The index of the object derived earlier under `name` when it is the same declaration as `new`
/// (`existing(name)`: its index and a copy with the fields that always differ — its line, its session
/// group — set as `new`'s), compared as their `Debug` forms; else `Err(new)` named `name`, or `name-2`,
/// `name-3`… — the first name no earlier object has. A battery's copies are shared between written
/// cases only when nothing differs (the issuer a rogue CA is, the clock a copy is valid at).
pub(super) fn same_or_next<T: std::fmt::Debug + Clone>(
    name: &str,
    new: &T,
    rename: impl Fn(&mut T, String),
    existing: impl Fn(&str) -> Option<(usize, T)>,
) -> Result<usize, T> {
    let mut candidate = new.clone();
    for n in 1.. {
        let try_name = if n == 1 {
            name.to_string()
        } else {
            format!("{name}-{n}")
        };
        rename(&mut candidate, try_name.clone());
        match existing(&try_name) {
            Some((i, x)) if format!("{x:?}") == format!("{candidate:?}") => return Ok(i),
            Some(_) => continue,
            None => return Err(candidate),
        }
    }
    unreachable!("some name `{name}-N` is free")
}
