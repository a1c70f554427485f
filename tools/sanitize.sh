#!/usr/bin/env bash
# Build fastconv with AddressSanitizer + UndefinedBehaviorSanitizer and run the tests under them.
#
#   tools/sanitize.sh [PYTEST ARGS...]     (default: the default test run, -x -q)
#
# The build happens in a scratch copy of the working tree (so your in-place build is left
# alone): FASTCONV_SANITIZE=1 makes setup.py compile with -O1 -g -fsanitize=address,undefined
# -fno-sanitize-recover=undefined.  CPython itself is not instrumented, so the ASan runtime must
# be loaded first (LD_PRELOAD), and leak detection is off (the interpreter "leaks" by design).
# Any ASan report or UB finding aborts the process, which pytest's run then reports.
# Examples:
#   tools/sanitize.sh                               # default suite
#   tools/sanitize.sh tests/test_robustness.py      # one module
#   tools/sanitize.sh -m slow tests/test_fuzz.py    # the bounded fuzz run, sanitized
# KEEP_WORK=1 keeps the scratch copy (its path is printed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
CC=${CC:-gcc}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastconv-asan.XXXXXX")
if [[ -z "${KEEP_WORK:-}" ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "scratch: $WORK"; fi

LIBASAN=$("$CC" -print-file-name=libasan.so)
[[ -e "$LIBASAN" ]] || { echo "sanitize.sh: libasan not found for $CC" >&2; exit 1; }
LIBASAN=$(readlink -f "$LIBASAN")
# C++ extensions loaded later (matplotlib, torch) throw through ASan's __cxa_throw interceptor,
# which only works when libstdc++ is already loaded at startup: preload it right after ASan.
LIBSTDCXX=$(readlink -f "$("$CC" -print-file-name=libstdc++.so)")
PRELOAD="$LIBASAN"
[[ -e "$LIBSTDCXX" ]] && PRELOAD="$PRELOAD:$LIBSTDCXX"

echo "== copy source tree to $WORK/src"
SRC="$WORK/src"
"$ROOT/tools/copy_tree.sh" "$ROOT" "$SRC"

echo "== build with FASTCONV_SANITIZE=1"
(cd "$SRC" && FASTCONV_SANITIZE=1 CC="$CC" "$PY" setup.py build_ext --inplace -j 2 \
    >"$WORK/build.log" 2>&1) || { tail -40 "$WORK/build.log"; exit 1; }
grep -q -- '-fsanitize=address,undefined' "$WORK/build.log" ||
    { echo "sanitize.sh: the build did not use -fsanitize (setup.py ignored FASTCONV_SANITIZE?)" >&2; exit 1; }
# The extension must really link the sanitizer runtimes, else the run below proves nothing.
ldd "$SRC"/fastconv/_kernels*.so | grep -q libasan ||
    { echo "sanitize.sh: _kernels is not linked against libasan" >&2; exit 1; }

echo "== pytest under ASan+UBSan (LD_PRELOAD=$PRELOAD)"
[[ $# -gt 0 ]] || set -- -x -q
cd "$SRC"
# detect_leaks=0: CPython's arenas and interned objects look like leaks.
# allocator_may_return_null=1, max_allocation_size_mb: the "output too large to allocate" cases
#   (the test runners cap memory with RLIMIT_AS, which ASan cannot live with) must get
#   NULL -> MemoryError,
#   not an ASan abort, as they would with the normal allocator.
# UBSan halts on the first finding (setup.py also passes -fno-sanitize-recover=undefined).
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=4096:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export FASTCONV_UNDER_SANITIZER=1
set +e
LD_PRELOAD="$PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}" "$PY" -m pytest -p no:cacheprovider "$@" \
    2>&1 | tee "$WORK/pytest.log"
rc=${PIPESTATUS[0]}
set -e
if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$WORK/pytest.log"; then
    echo "sanitize.sh: sanitizer reports found (see above)" >&2
    rc=1
fi
exit "$rc"
