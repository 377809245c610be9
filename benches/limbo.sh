#!/usr/bin/env bash
# How long `mtls-lab limbo` takes over the shared x509-limbo subset (208 testcases), per verifier under
# test: the wall time of each full run, three runs each. Figures go in docs/limbo.md; nothing here is
# asserted (the machine's load decides them).
#
#   bash benches/limbo.sh            # builds release first
#   MTLS_LAB=path/to/mtls-lab bash benches/limbo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MTLS_LAB:-}" ]; then
    cargo build --release --quiet
    MTLS_LAB="${CARGO_TARGET_DIR:-target}/release/mtls-lab"
fi
SUBSET=conformance/x509-limbo-subset.json
echo "cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for verifier in builtin openssl curl; do
    for run in 1 2 3; do
        start=$(date +%s.%N)
        "$MTLS_LAB" limbo "$SUBSET" --verifier "$verifier" --exceptions conformance/limbo-exceptions.json >/tmp/limbo-bench.$$ || {
            echo "$verifier: exit $? (see below)"; tail -3 /tmp/limbo-bench.$$; }
        end=$(date +%s.%N)
        printf '%-8s run %d: %5.2f s  %s\n' "$verifier" "$run" "$(echo "$end - $start" | bc)" "$(tail -1 /tmp/limbo-bench.$$ | sed 's/ ([0-9.]* s)$//')"
    done
done
rm -f /tmp/limbo-bench.$$
