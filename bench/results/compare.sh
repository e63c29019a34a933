#!/usr/bin/env bash
# Side-by-side run used for bench/README.md: etcd (peers/etcd.sh), hashicorp/raft+raft-wal
# (peers hraft), paxlog go test -bench and paxlog bench against three paxlog serve.
# The peer binaries are built by /work/shared/peers/build-peers.sh into $BIN (never committed).
# Usage: ROUNDS=3 [BIN=...] [PEERS=dir of etcd.sh] bench/results/compare.sh > out.txt
# (WHAT="gotest cli" for paxlog only; "floor" for the machine's floors)
set -uo pipefail
BIN=${BIN:-$HOME/.cache/paxlog-peers}
ROUNDS=${ROUNDS:-3}
WHAT=${WHAT:-"etcd hraft gotest cli floor"}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/paxlog-compare.XXXXXX)
cd "$ROOT"
go build -o $W/paxlog ./cmd/paxlog || exit 1
go test -c -o $W/bench.test ./bench || exit 1
go test -c -o $W/net.test ./net || exit 1
go test -c -o $W/storage.test ./storage || exit 1
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill $p 2>/dev/null; done; for p in "${PIDS[@]:-}"; do [[ -n $p ]] && wait $p 2>/dev/null; done; PIDS=(); }
trap 'cleanup; rm -rf "$W"' EXIT INT TERM
for r in $(seq 1 $ROUNDS); do
  for w in $WHAT; do
    echo "=== round $r $w $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    case $w in
    etcd) bash "${PEERS:-/work/shared/peers}/etcd.sh" 2>&1 ;;
    hraft) $BIN/hraft -store wal -clients 1,16,256 -total 3000,20000,50000 2>&1 ;;
    gotest)
      for spec in "Append\$/^clients=1\$/ 3000" "Append\$/^clients=16\$/ 20000" "Append\$/^clients=256\$/^size 50000" "Append\$/^clients=256\$/^conns 50000" "AppendLocal\$/^clients=(1|16)\$/ 5000" "AppendLocal\$/^clients=256\$/ 50000" "AppendBatch\$/ 200000" "Tail\$/^live 50000"; do
        set -- $spec
        echo "--- load $(cut -d' ' -f1-3 /proc/loadavg)"
        (cd "$ROOT/bench" && $W/bench.test -test.run XXX -test.bench "^Benchmark$1" -test.benchtime ${2}x 2>&1 | grep -E "^Benchmark|FAIL|panic|Error")
      done ;;
    floor)
      # What the machine allows with nothing of paxlog behind it: a bare TCP
      # round trip, paxnet's Call with a no-op handler, and write+fdatasync.
      (cd "$ROOT/bench" && $W/bench.test -test.run XXX -test.bench '^BenchmarkLoopbackFloor$' -test.benchtime 50000x 2>&1 | grep -E "^Benchmark|FAIL|panic")
      (cd "$ROOT/net" && $W/net.test -test.run XXX -test.bench '^BenchmarkCall$' -test.benchtime 50000x 2>&1 | grep -E "^Benchmark|FAIL|panic")
      (cd "$ROOT/storage" && $W/storage.test -test.run XXX -test.bench '^BenchmarkFsyncCost$' -test.benchtime 3000x 2>&1 | grep -E "^Benchmark|FAIL|panic") ;;
    cli)
      D=$(mktemp -d $W/cli.XXXX)
      P="1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103"
      for i in 1 2 3; do
        $W/paxlog serve --id $i --cluster bench --peers $P --data $D/n$i --election-ticks 50 --log-level warn >$D/n$i.log 2>&1 &
        PIDS+=($!)
      done
      $W/paxlog bench --cluster bench --addr 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 --clients 4 --count 400 --interval 1h --timeout 20s >/dev/null 2>&1
      for spec in "1 3000" "16 20000" "256 50000"; do
        set -- $spec
        echo "--- clients=$1 load $(cut -d' ' -f1-3 /proc/loadavg)"
        ( peak=0; while true; do for p in "${PIDS[@]}"; do v=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null); [[ -n $v && $v -gt $peak ]] && peak=$v; done; echo $peak > $D/rss; sleep 0.2; done ) &
        S=$!
        $W/paxlog bench --cluster bench --addr 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 --clients $1 --count $2 --interval 1h --timeout 20s 2>&1 | grep -vE "^ +<=|histogram"
        kill $S; wait $S 2>/dev/null
        echo "peak replica RSS: $(( $(cat $D/rss) / 1024 )) MiB"
      done
      cleanup; rm -rf $D ;;
    esac
  done
done
