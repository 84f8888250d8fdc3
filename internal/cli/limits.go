package cli

import (
	"math"
	"strconv"
	"strings"

	"github.com/parkerpack/parker/internal/artifact"
)

// parseLimits reads --memory, --pids and --cpus.
func parseLimits(flags *parsedFlags) (artifact.Limits, error) {
	var l artifact.Limits
	if v := flags.string("memory"); v != "" {
		n, err := parseSize(v)
		if err != nil || n < 1<<20 {
			return l, usageErrorf("invalid --memory %q: want a size of at least 1M, such as 512M or 2G", v)
		}
		l.MemoryBytes = n
	}
	if v := flags.string("pids"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return l, usageErrorf("invalid --pids %q: want a whole number of at least 1", v)
		}
		l.Pids = n
	}
	if v := flags.string("cpus"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n < 0.01 || n > 4096 {
			return l, usageErrorf("invalid --cpus %q: want a number of CPUs such as 0.5 or 2", v)
		}
		l.CPUs = n
	}
	return l, nil
}

// parseSize reads a byte count with an optional K, M, G or T suffix
// (powers of 1024; "KiB", "MB" and the like are read the same way).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || n*float64(mult) > math.MaxInt64/2 {
		return 0, strconv.ErrSyntax
	}
	return int64(n * float64(mult)), nil
}
