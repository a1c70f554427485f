#!/usr/bin/env bash
# Copy a fastconv checkout's source files (tracked + untracked-but-not-ignored) to DEST, without
# any build products, so a build there cannot pick up stale objects or an in-place _kernels*.so.
#   tools/copy_tree.sh ROOT DEST
set -euo pipefail
ROOT=$1 DEST=$2
mkdir -p "$DEST"
# Files deleted from the work tree but still tracked are skipped, not an error.
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do if [[ -f "$f" ]]; then printf '%s\0' "$f"; fi; done |
    xargs -0 -r cp --parents -t "$DEST")
rm -f "$DEST"/fastconv/_kernels*.so "$DEST"/fastconv/_kernels.c
[[ -f "$DEST/setup.py" && -f "$DEST/pyproject.toml" ]] || { echo "copy_tree.sh: incomplete copy" >&2; exit 1; }
