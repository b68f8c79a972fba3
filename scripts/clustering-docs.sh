#!/usr/bin/env bash
# Rewrites the generated reference in docs/clustering.md (between its
# cluster-plan markers) from `shoal cluster-plan --docs`.
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/clustering.md
gen=$(mktemp)
trap 'rm -f "$gen" "$gen.new"' EXIT
cargo run --quiet --release -p shoal -- cluster-plan --docs >"$gen"
begin=$(head -n 1 "$gen")
end=$(tail -n 1 "$gen")
grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc" || {
    echo "clustering-docs.sh: $doc lacks the markers" >&2
    exit 1
}
awk -v begin="$begin" -v end="$end" -v gen="$gen" '
    $0 == begin { while ((getline line < gen) > 0) print line; skip = 1; next }
    $0 == end { skip = 0; next }
    !skip { print }
' "$doc" >"$gen.new"
cat "$gen.new" >"$doc"
echo "clustering-docs.sh: $doc updated"
