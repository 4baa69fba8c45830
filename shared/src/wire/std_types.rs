//! `Wire` for `Duration` and the network address types.
//!
//! Invariants: a decoded `Duration` has nanoseconds below one second (so building it cannot
//! overflow); IP octets travel in network order, as `octets()` gives them; the enum-like
//! `IpAddr` and `SocketAddr` start with tag 4 or 6 and reject any other.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use super::read::{take_array, take_byte};
use super::{Wire, WireError};

/// Tag byte of the IPv4 form of `IpAddr` and `SocketAddr`.
const TAG_V4: u8 = 4;
/// Tag byte of the IPv6 form of `IpAddr` and `SocketAddr`.
const TAG_V6: u8 = 6;
/// Nanoseconds in a second: a `Duration`'s nanosecond field stays below it.
const NANOS_PER_SEC: u32 = 1_000_000_000;

impl Wire for Duration {
    const MIN_ENCODED_LEN: usize = 8 + 4;

    fn encode(&self, out: &mut Vec<u8>) {
        self.as_secs().encode(out);
        self.subsec_nanos().encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let secs = u64::decode(input)?;
        let nanos = u32::decode(input)?;
        if nanos >= NANOS_PER_SEC {
            return Err(WireError::InvalidDuration { nanos });
        }
        // `Duration::new` panics only when carrying nanos into secs overflows; nanos below one
        // second never carry.
        Ok(Duration::new(secs, nanos))
    }
}

impl Wire for Ipv4Addr {
    const MIN_ENCODED_LEN: usize = 4;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.octets());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Ipv4Addr::from(take_array::<4>(input)?))
    }
}

impl Wire for Ipv6Addr {
    const MIN_ENCODED_LEN: usize = 16;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.octets());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Ipv6Addr::from(take_array::<16>(input)?))
    }
}

impl Wire for IpAddr {
    const MIN_ENCODED_LEN: usize = 1 + Ipv4Addr::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            IpAddr::V4(ip) => {
                out.push(TAG_V4);
                ip.encode(out);
            }
            IpAddr::V6(ip) => {
                out.push(TAG_V6);
                ip.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match take_byte(input)? {
            TAG_V4 => Ok(IpAddr::V4(Wire::decode(input)?)),
            TAG_V6 => Ok(IpAddr::V6(Wire::decode(input)?)),
            tag => Err(WireError::InvalidTag {
                type_name: "IpAddr",
                tag: u64::from(tag),
            }),
        }
    }
}

impl Wire for SocketAddrV4 {
    const MIN_ENCODED_LEN: usize = Ipv4Addr::MIN_ENCODED_LEN + 2;

    fn encode(&self, out: &mut Vec<u8>) {
        self.ip().encode(out);
        self.port().encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let ip = Ipv4Addr::decode(input)?;
        let port = u16::decode(input)?;
        Ok(SocketAddrV4::new(ip, port))
    }
}

impl Wire for SocketAddrV6 {
    const MIN_ENCODED_LEN: usize = Ipv6Addr::MIN_ENCODED_LEN + 2 + 4 + 4;

    fn encode(&self, out: &mut Vec<u8>) {
        self.ip().encode(out);
        self.port().encode(out);
        self.flowinfo().encode(out);
        self.scope_id().encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let ip = Ipv6Addr::decode(input)?;
        let port = u16::decode(input)?;
        let flowinfo = u32::decode(input)?;
        let scope_id = u32::decode(input)?;
        Ok(SocketAddrV6::new(ip, port, flowinfo, scope_id))
    }
}

impl Wire for SocketAddr {
    const MIN_ENCODED_LEN: usize = 1 + SocketAddrV4::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SocketAddr::V4(addr) => {
                out.push(TAG_V4);
                addr.encode(out);
            }
            SocketAddr::V6(addr) => {
                out.push(TAG_V6);
                addr.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match take_byte(input)? {
            TAG_V4 => Ok(SocketAddr::V4(Wire::decode(input)?)),
            TAG_V6 => Ok(SocketAddr::V6(Wire::decode(input)?)),
            tag => Err(WireError::InvalidTag {
                type_name: "SocketAddr",
                tag: u64::from(tag),
            }),
        }
    }
}
