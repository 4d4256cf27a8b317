#!/usr/bin/env bash
# Compare swim-tokio with Go hashicorp/memberlist on this machine, in one run, interleaved.
#
#   bash swim-tokio/benches/compare-memberlist.sh            # 50 and 20 members, 3 runs each
#   SIZES="50" RUNS=5 bash swim-tokio/benches/compare-memberlist.sh
#
# For each size it runs, RUNS times, swim-tokio's `cluster` benchmark and then gopeer (N Go
# memberlist members in one process), both with the LAN preset, a 10 s settle after the joins
# converge and a 20 s CPU window, so a load change on the machine hits both alike. Before each
# run it prints the load (`uptime`). At the end it prints every raw figure and, per size, the
# swim/memberlist CPU ratio of each interleaved pair and of the medians.
#
# gopeer: set GOPEER to a built binary, or this script builds it from GOPEER_SRC (default
# ../shared/tools/gopeer beside the repository) with Debian's Go and memberlist:
#   apt-get install -y golang-go golang-github-hashicorp-memberlist-dev
#   cd ../shared/tools/gopeer && GOPATH=/usr/share/gocode GO111MODULE=off go build -o /tmp/gopeer .
#
# Ports: swim-tokio binds 127.0.0.1:0 (the kernel's ephemeral range, 32768 and up on Linux);
# gopeer binds GO_PORT (default 17000) + 100 * run index + member index, a fresh range per run.
# Raw output goes to OUT (default a new directory under /tmp); nothing is written to the repo.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
SIZES=${SIZES:-"50 20"}
RUNS=${RUNS:-3}
SETTLE=${SETTLE:-10}
WINDOW=${WINDOW:-20}
GO_PORT=${GO_PORT:-17000}
OUT=${OUT:-$(mktemp -d /tmp/compare-memberlist.XXXXXX)}
mkdir -p "$OUT"

if [ -z "${GOPEER:-}" ]; then
    src=${GOPEER_SRC:-$root/../shared/tools/gopeer}
    GOPEER=$OUT/gopeer
    echo "building gopeer from $src"
    (cd "$src" && GOPATH=/usr/share/gocode GO111MODULE=off go build -o "$GOPEER" .)
fi

echo "building the swim-tokio cluster benchmark"
swim=$(cd "$root" && cargo bench -p swim-tokio --bench cluster --no-run 2>&1 |
    sed -n 's/.*Executable benches\/cluster.rs (\(.*\))/\1/p' | tail -n 1)
[ -n "$swim" ] || { echo "could not find the cluster benchmark's executable" >&2; exit 1; }
case $swim in /*) ;; *) swim=$root/$swim ;; esac

echo "raw output in $OUT"
summary=$OUT/summary.txt
: >"$summary"
index=0
for n in $SIZES; do
    for run in $(seq 1 "$RUNS"); do
        for tool in swim go; do
            log=$OUT/$tool-$n-$run.txt
            load=$(cut -d' ' -f1-3 /proc/loadavg)
            echo "== $tool, $n members, run $run, $(date -u +%H:%M:%S) UTC, load $load"
            if [ "$tool" = swim ]; then
                "$swim" --nodes "$n" --preset lan --settle "$SETTLE" --steady "$WINDOW" >"$log" 2>&1 ||
                    echo "failed with exit status $?" | tee -a "$log"
            else
                "$GOPEER" -n "$n" -config lan -settle "${SETTLE}s" -idle "${WINDOW}s" \
                    -port $((GO_PORT + 100 * index)) >"$log" 2>&1 ||
                    echo "failed with exit status $?" | tee -a "$log"
                index=$((index + 1))
            fi
            fig() { awk -v k="$1" '$1 == k { print $2 }' "$log"; }
            line="$tool $n $run load=${load// /,} join=$(fig join_converged_s) cpu=$(fig idle_cpu_ms_per_node_per_s)"
            line="$line first=$(fig detect_first_s) all=$(fig detect_all_s) maxrss_kb=$(fig max_rss_kb_per_node)"
            if [ "$tool" = swim ]; then
                line="$line rss_growth_kb=$(fig rss_growth_kb_per_node) suspicions=$(fig suspicions_before_crash)"
            else
                line="$line false_positives=$(fig false_positive_reports)"
            fi
            echo "$line" | tee -a "$summary"
        done
    done
done

echo
echo "CPU per member-second, swim-tokio / memberlist:"
awk '
    {
        for (f = 4; f <= NF; f++) if ($f ~ /^cpu=/) cpu[$1, $2, $3] = substr($f, 5)
        sizes[$2] = 1; if ($3 > runs) runs = $3
    }
    function median(tool, n,   v, i, j, t, k) {
        k = 0
        for (i = 1; i <= runs; i++) v[++k] = cpu[tool, n, i]
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
    }
    END {
        for (n in sizes) {
            pairs = ""
            for (i = 1; i <= runs; i++) pairs = pairs sprintf(" %.2f", cpu["swim", n, i] / cpu["go", n, i])
            ms = median("swim", n); mg = median("go", n)
            printf "%s members: medians %.3f / %.3f ms = %.2f; per interleaved pair:%s\n", n, ms, mg, ms / mg, pairs
        }
    }' "$summary"
