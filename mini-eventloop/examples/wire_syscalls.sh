#!/usr/bin/env bash
# System calls per request and requests/s of the loop's HTTP hello server against its tokio
# twin, under wrk, in alternating rounds (loop first, then tokio first, ...), with the median
# and the range over the rounds. Needs `perf` (apt-get install linux-perf) and `wrk`.
#
#   mini-eventloop/examples/wire_syscalls.sh [rounds (default 5)] [seconds per run (default 10)]
#
# The count is `perf stat -e raw_syscalls:sys_enter -p <server pid>` over the whole wrk run
# (strace would slow the server and change its batching), divided by the requests wrk
# completed; receives, sends and epoll waits are counted apart the same way.
set -euo pipefail
rounds=${1:-5}
seconds=${2:-10}
cd "$(dirname "$0")/../.."
cargo build --release -q -p mini-eventloop --example http_hello --example http_hello_tokio
bin=target/release/examples
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
events=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom
events=$events,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_writev
events=$events,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait

# run NAME PORT: one wrk run against one server; appends "rps total recv send wait" per request.
run() {
    local name=$1 port=$2
    "$bin/$name" "127.0.0.1:$port" >/dev/null &
    local server=$!
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do :; done
    perf stat -x, -e "$events" -p "$server" -o "$out/perf" &
    local perf=$!
    wrk -t2 -c100 -d"${seconds}s" "http://127.0.0.1:$port/" >"$out/wrk"
    kill -INT "$perf"
    wait "$perf" || true
    kill "$server"
    wait "$server" 2>/dev/null || true
    local requests rps
    requests=$(awk '/requests in/ {print $1}' "$out/wrk")
    rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk")
    count() { awk -F, -v e="$1" '$3 == e {print $1}' "$out/perf"; }
    local total recv send wait
    total=$(count raw_syscalls:sys_enter)
    recv=$(($(count syscalls:sys_enter_read) + $(count syscalls:sys_enter_recvfrom)))
    send=$(($(count syscalls:sys_enter_write) + $(count syscalls:sys_enter_sendto) + $(count syscalls:sys_enter_writev)))
    wait=$(($(count syscalls:sys_enter_epoll_wait) + $(count syscalls:sys_enter_epoll_pwait)))
    awk -v r="$requests" -v rps="$rps" -v t="$total" -v a="$recv" -v s="$send" -v w="$wait" \
        'BEGIN {printf "%.0f %.3f %.3f %.3f %.3f\n", rps, t / r, a / r, s / r, w / r}' \
        | tee -a "$out/$name"
}

for round in $(seq 1 "$rounds"); do
    if ((round % 2)); then order="loop tokio"; else order="tokio loop"; fi
    for who in $order; do
        if [[ $who == loop ]]; then
            echo -n "round $round mini-eventloop: "; run http_hello 18080
        else
            echo -n "round $round tokio:          "; run http_hello_tokio 18081
        fi
    done
done

# median [min-max] of column $2 of file $1
stat() { sort -g -k"$2" "$1" | awk -v c="$2" '{v[NR] = $c} END {printf "%s [%s-%s]", v[int((NR + 1) / 2)], v[1], v[NR]}'; }
echo "columns: requests/s, syscalls/request, receives/request, sends/request, epoll waits/request"
for name in http_hello http_hello_tokio; do
    echo "$name: rps $(stat "$out/$name" 1); syscalls/req $(stat "$out/$name" 2);" \
        "recv/req $(stat "$out/$name" 3); send/req $(stat "$out/$name" 4); wait/req $(stat "$out/$name" 5)"
done
paste "$out/http_hello" "$out/http_hello_tokio" | awk '{print $1 / $6}' >"$out/ratio"
echo "requests/s ratio loop/tokio per round: $(tr '\n' ' ' <"$out/ratio")-> median $(stat "$out/ratio" 1)"
