#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for the given time each
# (default 60s). Crashers land in the package's testdata/fuzz directory,
# where they become regression inputs for "go test".
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-60s}

targets=$(go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
	for fn in $(cat "$dir"/*_test.go 2>/dev/null | grep -o '^func Fuzz[A-Za-z0-9_]*' | sed 's/^func //' | sort -u); do
		echo "$pkg $fn"
	done
done)

echo "$targets" | while read -r pkg fn; do
	[ -n "$pkg" ] || continue
	echo "fuzz: $pkg $fn ($fuzztime)"
	# A short minimization time keeps a run from spending all its time
	# shrinking one long input.
	go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" </dev/null
done
