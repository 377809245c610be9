#!/usr/bin/env bash
# Speed figures for the README's Speed section, measured side by side in one run on this machine:
#
#   bash benches/speed.sh            # SECS=10 by default: seconds per load run
#
# 1. `mtls-lab load` handshakes/s for TLS 1.3 mTLS, both sides in this process (the built-in client and
#    server), ECDSA P-256 and RSA-2048, handshake only and with `GET /`; the CPU time the process used.
# 2. The crypto floor from `openssl speed` on the same machine: per handshake, both sides together,
#    2 signatures (the two CertificateVerify) + 4 verifications (each side checks the CA's signature on
#    the other's certificate and the other's CertificateVerify) + 2 key exchanges (P-256 ECDH), and the
#    ratio load / floor, by wall clock (floor x cores) and by CPU time (floor per core-second).
# 3. A generated lab of 2,000 accepted ECDSA cases: cases/s with `run --jobs 1` and with the default
#    (every core), with the CPU use (above 100 % means more than one core).
# 4. The seed lab cold: `run labs/seed-mtls.yaml` in a fresh process with `--no-cache` (RSA-4096 CA key generation included; the key cache would skip it).
#
# Release build. Figures, not assertions: a shared machine is noisy; the script prints the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${SECS:-10}"
cargo build --release --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/mtls-lab"
CORES="$(nproc)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "machine: $CORES cores, $(openssl version | cut -d' ' -f1-2), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# A lab with one accepted TLS 1.3 mTLS case, every key of type $1.
lab() {
  cat >"$tmp/$1.yaml" <<EOF
lab: speed-$1
authorities:
  ca: { subject: { CN: Speed CA }, key: $1 }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, key: $1, usage: server }
  client: { issuer: ca, subject: { CN: alice }, key: $1, usage: client }
servers:
  web: { certificate: server, trust: [ca], tls: [1.3] }
cases:
  - name: accepted
    client: { certificate: client, trust: [ca], tls: [1.3] }
    expect: { outcome: accepted, server_saw: { CN: alice } }
EOF
  echo "$tmp/$1.yaml"
}

# openssl speed, one core: the last numbers of the line matching $2 in the output for algorithm $1.
ops() { openssl speed -seconds 3 "$1" 2>/dev/null | grep -E "$2" | tail -1; }
read -r p256_sign p256_verify < <(ops ecdsap256 'ecdsa \(nistp256\)' | awk '{print $(NF-1), $NF}')
read -r rsa_sign rsa_verify < <(ops rsa2048 '^rsa 2048' | awk '{print $(NF-1), $NF}')
read -r ecdh < <(ops ecdhp256 'ecdh \(nistp256\)' | awk '{print $NF}')
echo "openssl speed, one core: P-256 sign $p256_sign/s verify $p256_verify/s; RSA-2048 sign $rsa_sign/s verify $rsa_verify/s; P-256 ECDH $ecdh/s"

# Handshakes per second per core that the crypto alone allows: sign/s verify/s.
floor() { python3 -c "print(1 / (2 / $1 + 4 / $2 + 2 / $ecdh))"; }

# `load` for SECS seconds with 64 connections; prints handshakes/s, CPU seconds, wall seconds.
load() {
  local out
  TIMEFORMAT='%U %S %R'
  { time "$BIN" load "$1" --case accepted --connections 64 --duration "${SECS}s" --json "${@:2}" >"$tmp/load.json"; } 2>"$tmp/time"
  python3 - "$tmp/load.json" "$tmp/time" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
user, sys_, real = map(float, open(sys.argv[2]).read().split()[-3:])
assert s["wrong"] == 0 and s["errors"] == 0, s
print(s["handshakes"], s["handshakes_per_second"], user + sys_, s["latency_ms"]["p50"], s["latency_ms"]["p99"])
EOF
}

echo
printf '%-34s %10s %10s %10s %12s %8s %8s\n' "load (64 connections, ${SECS} s)" "hs/s" "floor/s" "ratio" "hs/CPU-s" "ratio" "p50 ms"
for key in ecdsa-p256 rsa2048; do
  file="$(lab "$key")"
  if [ "$key" = ecdsa-p256 ]; then f="$(floor "$p256_sign" "$p256_verify")"; else f="$(floor "$rsa_sign" "$rsa_verify")"; fi
  for mode in --handshake-only ""; do
    read -r n rate cpu p50 p99 < <(load "$file" $mode)
    name="$key TLS 1.3 ${mode:-with GET /}"
    python3 -c "
f=$f; cores=$CORES; rate=$rate; per_cpu=$n/$cpu
print('%-34s %10.0f %10.0f %9.0f%% %12.0f %7.0f%% %8.2f' % ('$name', rate, f*cores, 100*rate/(f*cores), per_cpu, 100*per_cpu/f, $p50))"
  done
done

echo
# 2,000 accepted ECDSA cases against one built-in server.
python3 - "$tmp/cases.yaml" <<'EOF'
import sys
head = """lab: two-thousand
authorities:
  ca: { subject: { CN: Many CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
servers:
  web: { certificate: server, trust: [ca] }
cases:
"""
cases = "".join(f"  - name: case {i}\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n" for i in range(2000))
open(sys.argv[1], "w").write(head + cases)
EOF
# Runs a command; prints its wall and CPU seconds, then the CPU seconds of each async worker thread
# (sampled from /proc until it exits), busiest first: two busy workers are two cores' worth of work
# even when other processes leave this one less than two cores.
cat >"$tmp/measure.py" <<'PY'
import os, resource, subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
tick = os.sysconf("SC_CLK_TCK")
workers = {}
while p.poll() is None:
    try:
        tids = os.listdir(f"/proc/{p.pid}/task")
    except OSError:
        tids = []
    for tid in tids:
        try:
            comm = open(f"/proc/{p.pid}/task/{tid}/comm").read().strip()
            fields = open(f"/proc/{p.pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if comm.startswith(("tokio-rt-worker", "tokio-runtime-w")):
            workers[tid] = (int(fields[11]) + int(fields[12])) / tick
    time.sleep(0.05)
wall = time.monotonic() - start
r = resource.getrusage(resource.RUSAGE_CHILDREN)
busy = sorted(workers.values(), reverse=True) + [0, 0]
print(f"{wall:.3f} {r.ru_utime + r.ru_stime:.3f} {busy[0]:.2f} {busy[1]:.2f}")
PY
for jobs in 1 default; do
  args=(); [ "$jobs" = 1 ] && args=(--jobs 1)
  read -r wall cpu w1 w2 < <(python3 "$tmp/measure.py" "$BIN" run "$tmp/cases.yaml" "${args[@]}")
  python3 -c "print('2,000-case lab, --jobs %-8s %6.2f s  %6.0f cases/s  CPU %4.0f%%  two busiest async workers: %s s and %s s of CPU' % ('$jobs', $wall, 2000/$wall, 100*$cpu/$wall, '$w1', '$w2'))"
done
"$BIN" run "$tmp/cases.yaml" | tail -1 | grep -q '^2000 passed, 0 failed$'

TIMEFORMAT='%R'
{ time "$BIN" run labs/seed-mtls.yaml --no-cache >/dev/null; } 2>"$tmp/time"
echo "seed lab cold (run labs/seed-mtls.yaml, RSA-4096 CA key included): $(tail -1 "$tmp/time") s"
