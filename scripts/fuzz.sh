#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for the given time each
# (default 60s). Crashers land in the package's testdata/fuzz directory,
# where they become regression inputs for "go test".
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-60s}

go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
	grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u | while read -r fn; do
		echo "fuzz: $pkg $fn ($fuzztime)"
		go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
