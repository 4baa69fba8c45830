//! No input makes the decoder panic: hundreds of thousands of random and mutated byte strings
//! decode, as many target types, to `Ok` or `Err`, and every `Ok` is self-consistent (the
//! value re-encodes to exactly the bytes it was decoded from).

mod wire_util;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use concurrency_shared::wire::Wire;
use wire_util::{XorShift, decode_consistently};

/// How many purely random byte strings are decoded (each as every target type).
const RANDOM_INPUTS: usize = 100_000;
/// How many mutated valid encodings are decoded (each as every target type).
const MUTATED_INPUTS: usize = 50_000;
/// The longest random input, in bytes: long enough for several nested prefixes and tags.
const MAX_RANDOM_LEN: u64 = 64;

/// Decodes `bytes` as each of a varied set of target types: scalars with invalid patterns,
/// strings, bulk and per-element sequences, enums, tuples, addresses and zero-byte elements.
fn decode_as_every_target(bytes: &[u8]) {
    decode_consistently::<u64>(bytes);
    decode_consistently::<bool>(bytes);
    decode_consistently::<char>(bytes);
    decode_consistently::<f32>(bytes);
    decode_consistently::<String>(bytes);
    decode_consistently::<Vec<u8>>(bytes);
    decode_consistently::<Vec<u32>>(bytes);
    decode_consistently::<Vec<String>>(bytes);
    decode_consistently::<Vec<Vec<u8>>>(bytes);
    decode_consistently::<Option<Vec<i16>>>(bytes);
    decode_consistently::<Result<String, (u8, bool)>>(bytes);
    decode_consistently::<(Duration, SocketAddr, char)>(bytes);
    decode_consistently::<Vec<Option<Box<f64>>>>(bytes);
    decode_consistently::<(IpAddr, Vec<char>)>(bytes);
    decode_consistently::<Vec<Result<(), u8>>>(bytes);
    decode_consistently::<Vec<()>>(bytes);
    decode_consistently::<Vec<((), ())>>(bytes);
    decode_consistently::<Vec<Vec<()>>>(bytes);
    decode_consistently::<[u16; 3]>(bytes);
    decode_consistently::<(u8, u16, u32, u64, i8, usize)>(bytes);
}

/// Purely random byte strings (biased towards tag and length bytes) never panic the decoder.
#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift::new(0x5EED_0001);
    for _ in 0..RANDOM_INPUTS {
        let len = rng.below(MAX_RANDOM_LEN + 1) as usize;
        let bytes = rng.bytes(len);
        decode_as_every_target(&bytes);
    }
}

/// Random byte strings behind a small, plausible length prefix reach deep into sequence
/// decoding (a random 8-byte prefix is almost always refused at once).
#[test]
fn random_bytes_behind_a_small_length_never_panic() {
    let mut rng = XorShift::new(0x5EED_0002);
    for _ in 0..RANDOM_INPUTS {
        let len = rng.below(MAX_RANDOM_LEN + 1) as usize;
        let mut bytes = rng.below(6).to_le_bytes().to_vec();
        bytes.extend(rng.bytes(len));
        decode_as_every_target(&bytes);
    }
}

/// Valid encodings with a few bytes overwritten, cut short or extended never panic the
/// decoder, and whatever decodes is consistent.
#[test]
fn mutated_encodings_never_panic() {
    let v6 = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 443, 9, 1);
    let seeds: Vec<Vec<u8>> = vec![
        vec!["alpha".to_owned(), "βeta".to_owned()].to_bytes(),
        vec![vec![1_u8, 2, 3], vec![]].to_bytes(),
        Some(vec![-1_i16, 2]).to_bytes(),
        Err::<String, (u8, bool)>((7, true)).to_bytes(),
        (Duration::new(1, 2), SocketAddr::V6(v6), 'z').to_bytes(),
        vec![Some(Box::new(1.5_f64)), None].to_bytes(),
        (IpAddr::V4(Ipv4Addr::LOCALHOST), vec!['a', 'é']).to_bytes(),
        vec![Ok(()), Err(3_u8)].to_bytes(),
        vec![vec![(); 2], vec![(); 5]].to_bytes(),
        (1_u8, 2_u16, 3_u32, 4_u64, -5_i8, 6_usize).to_bytes(),
    ];
    let mut rng = XorShift::new(0x5EED_0003);
    for round in 0..MUTATED_INPUTS {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..=rng.below(3) {
            match rng.below(4) {
                0 | 1 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.byte();
                }
                2 => bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize),
                _ => bytes.push(rng.byte()),
            }
        }
        decode_as_every_target(&bytes);
    }
}
