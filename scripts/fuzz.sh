#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for the given time each
# (default 60s). Crashers land in the package's testdata/fuzz directory,
# where they become regression inputs for "go test".
#
# FUZZMINIMIZETIME (default 5s) bounds how long the fuzzer minimizes a new
# interesting input or a crasher. Go's default of 60s can use up a short
# run on a single input, so that a 5s run spends it all minimizing.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-60s}
minimizetime=${FUZZMINIMIZETIME:-5s}

targets=$(go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
	# Packages without fuzz targets, or without tests, match nothing.
	{ grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null || true; } |
		sed 's/^func //' | sort -u | sed "s|^|$pkg |"
done)
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

while read -r pkg fn; do
	echo "fuzz: $pkg $fn ($fuzztime, minimizing for at most $minimizetime)"
	go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" "$pkg" </dev/null
done <<<"$targets"
