//! Helpers shared by the bench binaries: medians of runs taken round by round.

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Measures every subject `runs` times, round by round, each round starting one subject later
/// (a, b, c; then b, c, a; ...), and gives each subject's median in `subjects`' order. On a
/// shared 2-core machine a burst of noise lasts long enough to spoil several runs in a row:
/// interleaved, it spoils one run of each subject alike instead of all runs of one.
pub fn interleaved<S: Copy>(
    subjects: &[S],
    runs: usize,
    mut measure: impl FnMut(S) -> f64,
) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(runs); subjects.len()];
    for round in 0..runs {
        for k in 0..subjects.len() {
            let i = (round + k) % subjects.len();
            samples[i].push(measure(subjects[i]));
        }
    }
    samples.into_iter().map(median).collect()
}
