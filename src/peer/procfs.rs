//! Linux's /proc, read: the process table (parent, process group, start time, zombie or not), a
//! process's environment and sockets, and the TCP socket table. Every reader answers "nothing known"
//! (`None` or empty) where /proc is unavailable or a process is gone or not ours to read.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One process, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    /// Clock ticks after boot at which it started: with `pid`, identifies it (pids are reused).
    pub start: u64,
    /// It has exited and waits to be reaped by its parent.
    pub zombie: bool,
}

/// Parses one `/proc/PID/stat` line (`pid (comm) state ppid pgrp … starttime …`).
fn parse_stat(pid: i32, stat: &str) -> Option<ProcInfo> {
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state(0) ppid(1) pgrp(2) … starttime is field 22 of the line, index 19 here.
    Some(ProcInfo {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
        zombie: *f.first()? == "Z",
    })
}

/// One process's entry, or `None` when it does not exist (any more).
pub fn process(pid: i32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &stat)
}

/// Every process visible in /proc; `None` when /proc cannot be read.
pub fn processes() -> Option<Vec<ProcInfo>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(p) = process(pid) {
            out.push(p);
        }
    }
    Some(out)
}

/// The processes in `table` whose chain of parents reaches `root` (`root` itself excluded).
pub fn descendants(table: &[ProcInfo], root: i32) -> HashSet<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in table {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = HashSet::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for c in children.get(&p).into_iter().flatten() {
            if *c != root && out.insert(*c) {
                stack.push(*c);
            }
        }
    }
    out
}

/// Whether process `pid`'s environment (as it was started) holds exactly the entry `entry`
/// (`NAME=VALUE`); false when it cannot be read (gone, a zombie, another user's).
pub fn environ_has(pid: i32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
        .unwrap_or(false)
}

/// The inodes of the sockets process `pid` holds open (empty when it cannot be read).
pub fn socket_inodes(pid: i32) -> HashSet<u64> {
    let mut out = HashSet::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return out;
    };
    for fd in fds.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy();
            if let Some(inode) = t
                .strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|i| i.parse().ok())
            {
                out.insert(inode);
            }
        }
    }
    out
}

/// One TCP socket of this network namespace, from `/proc/net/tcp` and `/proc/net/tcp6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub listening: bool,
    /// 0 when no process holds it any more (closed, in TIME_WAIT).
    pub inode: u64,
}

/// Every TCP socket (IPv4 and IPv6); `None` when neither table can be read.
pub fn tcp_sockets() -> Option<Vec<TcpSocket>> {
    let mut out = Vec::new();
    let mut any = false;
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        any = true;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let (Some(local), Some(remote), Ok(inode)) = (
                parse_proc_addr(f[1], v6),
                parse_proc_addr(f[2], v6),
                f[9].parse::<u64>(),
            ) else {
                continue;
            };
            out.push(TcpSocket {
                local,
                remote,
                listening: f[3] == "0A",
                inode,
            });
        }
    }
    any.then_some(out)
}

/// `0100007F:115C` (IPv4) or 32 hex digits and a port (IPv6), as /proc/net/tcp writes addresses.
pub fn parse_proc_addr(s: &str, v6: bool) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if v6 {
        let mut bytes = [0u8; 16];
        for (i, chunk) in bytes.chunks_mut(4).enumerate() {
            let word = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        IpAddr::V6(Ipv6Addr::from(bytes))
    } else {
        let word = u32::from_str_radix(ip, 16).ok()?;
        IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes()))
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses() {
        assert_eq!(
            parse_proc_addr("0100007F:115C", false),
            Some("127.0.0.1:4444".parse().unwrap())
        );
        assert_eq!(
            parse_proc_addr("00000000000000000000000001000000:115C", true),
            Some("[::1]:4444".parse().unwrap())
        );
    }

    #[test]
    fn stat_lines() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        assert_eq!(
            parse_stat(42, line),
            Some(ProcInfo {
                pid: 42,
                ppid: 1,
                pgrp: 42,
                start: 12345,
                zombie: false
            })
        );
    }

    #[test]
    fn this_process_is_seen() {
        let me = std::process::id() as i32;
        let table = processes().expect("/proc");
        assert!(table.iter().any(|p| p.pid == me));
        assert!(!descendants(&table, me).contains(&me));
    }
}
