//! Deep input: a recursive type fed input nested far deeper than any real value fails with a
//! typed error instead of overflowing the stack (which aborts the whole process).

use std::thread;

use concurrency_shared::wire::{MAX_DEPTH, STACK_BUDGET, Wire, WireError};

/// A stack far smaller than a thread's default (2 MiB), so that the guard is shown to keep
/// decoding well inside it: the old decoder overflowed even the default on this input.
const SMALL_STACK: usize = 256 * 1024;

/// Input length of the attack: 800 KB of "one more level".
const DEEP_INPUT: usize = 800_000;

/// A user's recursive type through `Box`: a chain of nodes ending in a leaf.
#[derive(Debug, PartialEq)]
enum Chain {
    Leaf,
    Node(Box<Chain>),
}

impl Wire for Chain {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Chain::Leaf => 0u8.encode(out),
            Chain::Node(next) => {
                1u8.encode(out);
                next.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match u8::decode(input)? {
            0 => Ok(Chain::Leaf),
            1 => Ok(Chain::Node(Box::decode(input)?)),
            tag => Err(WireError::InvalidTag {
                type_name: "Chain",
                tag: tag.into(),
            }),
        }
    }
}

/// A user's recursive type through `Vec`: a tree whose nodes hold their children.
#[derive(Debug, PartialEq)]
struct Tree(Vec<Tree>);

impl Wire for Tree {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Tree(Vec::decode(input)?))
    }
}

/// A chain of `depth` nodes.
fn chain(depth: usize) -> Chain {
    (0..depth).fold(Chain::Leaf, |next, _| Chain::Node(Box::new(next)))
}

/// Runs `f` on a thread with [`SMALL_STACK`] and returns its result.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// 800 KB of nested `Box` input is refused with `TooDeep`, on a small stack.
#[test]
fn deep_box_input_is_too_deep_not_a_crash() {
    let result = on_small_stack(|| Chain::from_bytes(&vec![1u8; DEEP_INPUT]));
    assert_eq!(result, Err(WireError::TooDeep { max: MAX_DEPTH }));
}

/// 800 KB of nested `Vec` input (each level a length of 1) is refused the same way.
#[test]
fn deep_vec_input_is_too_deep_not_a_crash() {
    let mut bytes = Vec::with_capacity(DEEP_INPUT);
    while bytes.len() + 8 <= DEEP_INPUT {
        bytes.extend_from_slice(&1u64.to_le_bytes());
    }
    let result = on_small_stack(move || Tree::from_bytes(&bytes));
    assert_eq!(result, Err(WireError::TooDeep { max: MAX_DEPTH }));
}

/// The limit is exact: `MAX_DEPTH` levels round-trip (on the small stack), one more does not.
#[test]
fn max_depth_decodes_and_one_more_does_not() {
    on_small_stack(|| {
        let deepest = chain(MAX_DEPTH);
        assert_eq!(Chain::from_bytes(&deepest.to_bytes()), Ok(deepest));
        let deeper = chain(MAX_DEPTH + 1).to_bytes();
        assert_eq!(
            Chain::from_bytes(&deeper),
            Err(WireError::TooDeep { max: MAX_DEPTH })
        );
    });
}

/// Levels are left on every exit: after a refused input, an error inside deep input and a
/// panic inside a nested decode, a value of the full depth still decodes on the same thread.
#[test]
fn the_depth_is_restored_after_errors_and_panics() {
    on_small_stack(|| {
        let too_deep = vec![1u8; DEEP_INPUT];
        assert!(Chain::from_bytes(&too_deep).is_err());
        let mut truncated = chain(MAX_DEPTH / 2).to_bytes();
        truncated.pop();
        assert_eq!(Chain::from_bytes(&truncated), Err(WireError::Truncated));

        /// Panics when decoded: stands for a user impl with a bug.
        struct Bomb;
        impl Wire for Bomb {
            fn encode(&self, _: &mut Vec<u8>) {}
            fn decode(_: &mut &[u8]) -> Result<Self, WireError> {
                panic!("user decode bug")
            }
        }
        let panicked = std::panic::catch_unwind(|| Box::<Box<Bomb>>::from_bytes(&[]));
        assert!(panicked.is_err());

        let deepest = chain(MAX_DEPTH);
        assert_eq!(Chain::from_bytes(&deepest.to_bytes()), Ok(deepest));
    });
}

/// Equal bytes follow bit-for-bit equality, not `==`, for floats: `0.0 == -0.0` yet their
/// encodings differ and each keeps its sign; a NaN is not `==` to itself yet encodes the same
/// bytes every time. The module documentation says exactly this.
#[test]
fn float_bytes_follow_bits_not_equality() {
    assert_eq!(0.0_f64, -0.0_f64);
    assert_ne!(0.0_f64.to_bytes(), (-0.0_f64).to_bytes());
    let negative = f64::from_bytes(&(-0.0_f64).to_bytes()).unwrap();
    assert!(negative == 0.0 && negative.is_sign_negative());
    assert_ne!(0.0_f32.to_bytes(), (-0.0_f32).to_bytes());
    let nan = f64::NAN;
    assert!(nan != nan);
    assert_eq!(nan.to_bytes(), nan.to_bytes());
}

/// Bytes each level of [`Wide`] holds inline.
const WIDE: usize = 16 * 1024;

/// A user's recursive type whose every level holds a 16 KiB array inline, so each level's
/// decode frame is at least that large.
struct Wide {
    payload: [u8; WIDE],
    next: Option<Box<Wide>>,
}

impl Wire for Wide {
    fn encode(&self, out: &mut Vec<u8>) {
        self.payload.encode(out);
        self.next.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Wide {
            payload: <[u8; WIDE]>::decode(input)?,
            next: Option::decode(input)?,
        })
    }
}

/// The encoding of `levels` nested [`Wide`] values.
fn wide_input(levels: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for level in 0..=levels {
        bytes.extend_from_slice(&[7u8; WIDE]);
        bytes.push(u8::from(level < levels));
    }
    bytes
}

/// A stack with the promised room: `STACK_BUDGET` plus generous room for one level's frame
/// and the thread's own start.
const BUDGET_STACK: usize = STACK_BUDGET + 512 * 1024;

/// Large levels stop at the stack budget, well before `MAX_DEPTH`: 100 levels of 16 KiB are
/// refused on a stack with the promised room (the old guard counted levels only, and this
/// input overflowed a 2 MiB stack at 25 levels), while a few levels decode.
#[test]
fn large_levels_stop_at_the_stack_budget() {
    let (deep, shallow) = thread::Builder::new()
        .stack_size(BUDGET_STACK)
        .spawn(|| {
            let deep = Wide::from_bytes(&wide_input(100)).err();
            let shallow = Wide::from_bytes(&wide_input(2)).map(|w| w.next.is_some());
            (deep, shallow)
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(
        matches!(deep, Some(WireError::TooDeep { max }) if max < MAX_DEPTH),
        "{deep:?}"
    );
    assert_eq!(shallow, Ok(true));
}
