#!/bin/sh
# The cost of the `trace` feature, off against on: runs the `trace_cost` bench built without
# the feature, and with it without and with a recorder (each in its own process, so a
# recorded run cannot cool the caches for a plain one), in turn, each round starting with the
# next one, ROUNDS times each; prints each figure's median and range over the rounds, and the
# ratios of the medians.
#
#   mini-eventloop/benches/trace_cost.sh 11        # rounds (default 11)
set -eu
rounds=${1:-11}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bench() { cargo bench -q -p mini-eventloop --bench trace_cost "$@" >>"$out" 2>/dev/null; }
bench --no-run
bench --features trace --no-run
i=0
while [ "$i" -lt "$rounds" ]; do
    case $((i % 3)) in
    0) bench; bench --features trace -- --mode=plain; bench --features trace -- --mode=recorded ;;
    1) bench --features trace -- --mode=plain; bench --features trace -- --mode=recorded; bench ;;
    *) bench --features trace -- --mode=recorded; bench; bench --features trace -- --mode=plain ;;
    esac
    i=$((i + 1))
done
# Each bench line: "<name> <unit>  <mode>: <ns>  <mode>: <ns> ..."; one sample per mode.
awk '
    /ns\// {
        name = substr($0, 1, index($0, "feature") - 1); sub(/ +$/, "", name); gsub(/  +/, " ", name)
        rest = $0
        while (match(rest, /feature [a-z, ]+: +[0-9.]+/)) {
            pair = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
            split(pair, kv, /: +/)
            key = name " | " kv[1]; n[key]++; v[key, n[key]] = kv[2] + 0
        }
    }
    function median(key,   i, j, t, a) {
        for (i = 1; i <= n[key]; i++) a[i] = v[key, i]
        for (i = 2; i <= n[key]; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        lo[key] = a[1]; hi[key] = a[n[key]]
        return a[int((n[key] + 1) / 2)]
    }
    END {
        for (key in n) m[key] = median(key)
        for (key in n) printf "%-58s median %7.1f  [%.1f-%.1f]  (%d runs)\n", key, m[key], lo[key], hi[key], n[key]
        for (key in n) if (key ~ /feature off/) {
            base = substr(key, 1, index(key, " | ") - 1)
            on = base " | feature on, no recorder"; rec = base " | feature on, recorder"
            printf "%s  on, no recorder / off %.2f   on, recorder / off %.2f\n", base, m[on] / m[key], m[rec] / m[key]
        }
    }' "$out" | sort
