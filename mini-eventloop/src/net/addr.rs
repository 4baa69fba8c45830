//! [`ToSocketAddrs`] and [`lookup_host`]: addresses given as text are resolved on the
//! `spawn_blocking` pool (`getaddrinfo` blocks), as tokio's `lookup_host` does, so a name
//! lookup never stalls the loop; addresses that are already numbers are used at once.
//!
//! Invariant: only a host *name* ever reaches the blocking pool; a `SocketAddr`, an
//! `(IpAddr, port)` or text that parses as one costs no thread and no system call.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::spawn_blocking;

/// A resolution job for the blocking pool.
type Resolver = Box<dyn FnOnce() -> io::Result<Vec<SocketAddr>> + Send>;

mod sealed {
    /// What an address turns into: numbers now, or a name to resolve off the loop.
    pub enum Lookup {
        /// Already numeric.
        Ready(Vec<std::net::SocketAddr>),
        /// A host name: resolve it on the blocking pool.
        Resolve(super::Resolver),
    }

    /// The sealed half of [`ToSocketAddrs`](super::ToSocketAddrs): users cannot implement it,
    /// so new forms can be added without breaking anyone.
    pub trait ToSocketAddrsPriv {
        /// Numbers now, or a resolver.
        fn lookup(self) -> Lookup;
    }
}

use sealed::{Lookup, ToSocketAddrsPriv};

/// Something that names one or more socket addresses: a [`SocketAddr`], an `(IpAddr, u16)`, a
/// `"host:port"` string, or a `(host, port)` pair. Sealed: implemented here only.
pub trait ToSocketAddrs: ToSocketAddrsPriv {}

impl<T: ToSocketAddrsPriv> ToSocketAddrs for T {}

impl ToSocketAddrsPriv for SocketAddr {
    fn lookup(self) -> Lookup {
        Lookup::Ready(vec![self])
    }
}

impl ToSocketAddrsPriv for SocketAddrV4 {
    fn lookup(self) -> Lookup {
        SocketAddr::V4(self).lookup()
    }
}

impl ToSocketAddrsPriv for SocketAddrV6 {
    fn lookup(self) -> Lookup {
        SocketAddr::V6(self).lookup()
    }
}

impl ToSocketAddrsPriv for (IpAddr, u16) {
    fn lookup(self) -> Lookup {
        SocketAddr::from(self).lookup()
    }
}

impl ToSocketAddrsPriv for (Ipv4Addr, u16) {
    fn lookup(self) -> Lookup {
        SocketAddr::from(self).lookup()
    }
}

impl ToSocketAddrsPriv for (Ipv6Addr, u16) {
    fn lookup(self) -> Lookup {
        SocketAddr::from(self).lookup()
    }
}

impl ToSocketAddrsPriv for &[SocketAddr] {
    fn lookup(self) -> Lookup {
        Lookup::Ready(self.to_vec())
    }
}

impl ToSocketAddrsPriv for &str {
    fn lookup(self) -> Lookup {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Lookup::Ready(vec![addr]);
        }
        let text = self.to_owned();
        Lookup::Resolve(Box::new(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&text).map(Iterator::collect)
        }))
    }
}

impl ToSocketAddrsPriv for String {
    fn lookup(self) -> Lookup {
        self.as_str().lookup()
    }
}

impl ToSocketAddrsPriv for &String {
    fn lookup(self) -> Lookup {
        self.as_str().lookup()
    }
}

impl ToSocketAddrsPriv for (&str, u16) {
    fn lookup(self) -> Lookup {
        let (host, port) = self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return (ip, port).lookup();
        }
        let host = host.to_owned();
        Lookup::Resolve(Box::new(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
        }))
    }
}

impl ToSocketAddrsPriv for (String, u16) {
    fn lookup(self) -> Lookup {
        (self.0.as_str(), self.1).lookup()
    }
}

/// Resolves `addr` to socket addresses, in the order the resolver gave them; a host name is
/// looked up on the `spawn_blocking` pool. asyncio: `loop.getaddrinfo`.
///
/// ```
/// use mini_eventloop::{Runtime, net::lookup_host};
/// let rt = Runtime::new().unwrap();
/// let addrs = rt.block_on(lookup_host("localhost:80")).unwrap();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// ```
///
/// # Errors
///
/// The resolver's error; `Other` if the runtime shut down before the lookup ran, or if a
/// host name is given outside a runtime (numbers need no runtime, a name needs its pool).
pub async fn lookup_host(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    match addr.lookup() {
        Lookup::Ready(addrs) => Ok(addrs),
        Lookup::Resolve(_) if crate::runtime::current().is_none() => Err(io::Error::other(
            "mini-eventloop: a host name can only be resolved inside Runtime::block_on",
        )),
        Lookup::Resolve(resolve) => spawn_blocking(resolve).await.map_err(io::Error::other)?,
    }
}

/// Runs `op` on each address of `addr` in turn until one succeeds; the last error otherwise.
pub(crate) async fn try_each<T, F, Fut>(addr: impl ToSocketAddrs, mut op: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in lookup_host(addr).await? {
        match op(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}
