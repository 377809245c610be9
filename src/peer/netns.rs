//! A private network namespace for a whole run (`mtls-lab run --isolate`, Linux): the run, and every
//! program it starts, get a loopback interface of their own, so no other process on the machine can
//! reach or take their ports — many runs can each have their own server on the seed's 4443 at once.
//!
//! [`enter`] must be called while the process has one thread (before the async runtime starts): a
//! network namespace is a property of a thread, and a new user namespace needs a single-threaded
//! process. As root (with `CAP_SYS_ADMIN`) only the network namespace is new; otherwise a user namespace
//! that maps this user to itself comes with it (unprivileged user namespaces). The new loopback starts
//! down and is brought up over rtnetlink (no `ip` command needed). When none of this is permitted, the
//! run keeps the machine's network and fixed ports are held across processes by
//! [`crate::peer::portlock`] instead.

use std::io::Write;
use std::sync::OnceLock;

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::thread::UnshareFlags;

/// How the run keeps its ports from other processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// A private network namespace with its own loopback (`user`: with a user namespace too).
    Namespace { user: bool },
    /// The machine's network, fixed ports held by a lock file per port; `why` says why no private
    /// namespace (empty when none was asked for).
    PortLocks { why: String },
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Isolation::Namespace { user: false } => write!(f, "a private network namespace (its own loopback; no other process can reach or take this run's ports)"),
            Isolation::Namespace { user: true } => write!(f, "a private network namespace in a user namespace (its own loopback; no other process can reach or take this run's ports)"),
            Isolation::PortLocks { why } if why.is_empty() => write!(f, "port locks (one lock file per fixed port, shared with other runs on this machine)"),
            Isolation::PortLocks { why } => write!(f, "port locks (one lock file per fixed port, shared with other runs on this machine): no private network namespace, {why}"),
        }
    }
}

static CHOSEN: OnceLock<Isolation> = OnceLock::new();

/// Whether this process runs in a private network namespace it made ([`enter`] succeeded).
pub fn isolated() -> bool {
    matches!(CHOSEN.get(), Some(Isolation::Namespace { .. }))
}

/// Moves this process into a private network namespace with its loopback up, or says why it cannot
/// (it then stays where it was, and fixed ports fall back to port locks). Call it once, before any
/// other thread is started; a later call returns what the first chose.
pub fn enter() -> Isolation {
    CHOSEN.get_or_init(choose).clone()
}

fn choose() -> Isolation {
    if std::env::var_os("MTLS_LAB_NO_NETNS").is_some() {
        return Isolation::PortLocks {
            why: "MTLS_LAB_NO_NETNS is set".into(),
        };
    }
    let original = std::fs::File::open("/proc/self/ns/net").ok();
    let user = match unshare(UnshareFlags::NEWNET) {
        Ok(()) => false,
        Err(first) => match unshare(UnshareFlags::NEWUSER | UnshareFlags::NEWNET) {
            Ok(()) => {
                if let Err(e) = map_self() {
                    // The network is already private: without a mapping the run still works, but
                    // files would show an unknown owner; say so and carry on.
                    tracing::warn!(error = %e, "cannot map this user into the new user namespace");
                }
                true
            }
            Err(second) => {
                return Isolation::PortLocks {
                    why: format!("unshare(CLONE_NEWNET) was refused ({first}) and so was a user namespace ({second})"),
                }
            }
        },
    };
    match loopback_up() {
        Ok(()) => Isolation::Namespace { user },
        Err(e) => {
            // Back to the machine's network if we can (as root we can); otherwise no network at all
            // would be worse than the lock, so the run stops.
            let back = original.as_ref().is_some_and(|f| {
                rustix::thread::move_into_link_name_space(
                    rustix::fd::AsFd::as_fd(f),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .is_ok()
            });
            if !back {
                eprintln!("error: --isolate: made a private network namespace but cannot bring its loopback up ({e}), nor go back");
                std::process::exit(3);
            }
            Isolation::PortLocks {
                why: format!("its loopback could not be brought up ({e})"),
            }
        }
    }
}

#[allow(deprecated)] // `unshare` is deprecated for CLONE_FILES's sake only; no file table is unshared here.
fn unshare(flags: UnshareFlags) -> std::io::Result<()> {
    rustix::thread::unshare(flags).map_err(Into::into)
}

/// Maps this user and group to themselves in the new user namespace.
fn map_self() -> std::io::Result<()> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let write = |file: &str, text: String| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(file)?
            .write_all(text.as_bytes())
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

/// Brings the interface `lo` up (RTM_NEWLINK with IFF_UP over rtnetlink), then checks that a
/// connection to 127.0.0.1 goes through.
fn loopback_up() -> std::io::Result<()> {
    const RTM_NEWLINK: u16 = 16;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const NLMSG_ERROR: u16 = 2;
    const IFF_UP: u32 = 1;
    let probe = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    let index = rustix::net::netdevice::name_to_index(&probe, "lo")?;
    let nl = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None,
    )?;
    // struct nlmsghdr (16 bytes) + struct ifinfomsg (16 bytes), native byte order.
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&32u32.to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    msg.extend_from_slice(&[0, 0]); // family AF_UNSPEC, padding
    msg.extend_from_slice(&0u16.to_ne_bytes()); // device type
    msg.extend_from_slice(&(index as i32).to_ne_bytes());
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // flags
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // change mask
    let kernel = rustix::net::netlink::SocketAddrNetlink::new(0, 0);
    rustix::net::sendto(&nl, &msg, rustix::net::SendFlags::empty(), &kernel)?;
    let mut answer = [0u8; 1024];
    let (n, _) = rustix::net::recv(&nl, &mut answer, rustix::net::RecvFlags::empty())?;
    let n = n.min(answer.len());
    if n < 20 || u16::from_ne_bytes([answer[4], answer[5]]) != NLMSG_ERROR {
        return Err(std::io::Error::other("unexpected rtnetlink answer"));
    }
    let errno = i32::from_ne_bytes([answer[16], answer[17], answer[18], answer[19]]);
    if errno != 0 {
        return Err(std::io::Error::from_raw_os_error(-errno));
    }
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    std::net::TcpStream::connect(listener.local_addr()?)?;
    Ok(())
}
