#!/usr/bin/env bash
# The foundation issue's three CPU figures for the default model, at every kernel level this CPU runs, in one run:
# single-sequence decode, prefill of one 512-token prompt, and 16 sequences decoding in one batched forward.
# The portable level (plain C++, compiler-vectorized) is the same-run baseline for the SIMD kernels.
#
#   bench/cpu-foundation.sh [BUILD_DIR] [THREADS]      -> a table on stdout, JSON lines in $OUT_DIR (default out/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${2:-2}
out=${OUT_DIR:-out}
mkdir -p "$out"
json="$out/cpu-foundation-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
printf "%-9s %-26s %10s %10s\n" level case prefill/s decode/s
for isa in avx512 avx2 portable; do
  for shape in "decode1 --batch 1 --input-len 16 --output-len 128" \
               "prefill512 --batch 1 --input-len 512 --output-len 2" \
               "decode16 --batch 16 --input-len 16 --output-len 64"; do
    set -- $shape
    name=$1
    shift
    line=$(TESSERA_CPU_ISA=$isa "$build/tessera" bench latency default "$@" --threads "$threads" --device cpu --json) || continue
    echo "$line" >>"$json"
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("%-9s %-26s %10.1f %10.1f" % (sys.argv[2], sys.argv[3], j["prefill_tokens_per_s"], j["decode_tokens_per_s"]))' "$line" "$isa" "$name"
  done
done
echo "results: $json"
