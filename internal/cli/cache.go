package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/parkerpack/parker/internal/cache"
)

// defaultPruneDays is how long --cache-prune keeps an entry that no run used.
const defaultPruneDays = 30

// maxPruneDays is about 100 years.
const maxPruneDays = 36500

// runCachePrune removes the cache entries of the current user that no run
// used within DAYS days (the optional operand, default 30), and the
// temporary directories of interrupted runs.
func runCachePrune(flags *parsedFlags, stdout io.Writer) error {
	days, err := pruneDays(flags.operands)
	if err != nil {
		return err
	}
	root, err := cache.Dir(os.Getenv, os.Geteuid())
	if err != nil {
		return err
	}
	stats, err := cache.Prune(root, time.Duration(days)*24*time.Hour, time.Now())
	fmt.Fprintf(stdout, "%s: removed %d entries not used for %d days and %d temporary directories, %s\n",
		root, stats.Entries, days, stats.Temp, humanBytes(stats.Bytes))
	if stats.InUse > 0 {
		fmt.Fprintf(stdout, "%s: kept %d entries that running artifacts use\n", root, stats.InUse)
	}
	return err
}

func pruneDays(operands []string) (int, error) {
	switch len(operands) {
	case 0:
		return defaultPruneDays, nil
	case 1:
		days, err := strconv.Atoi(operands[0])
		// The upper bound keeps DAYS in hours within time.Duration.
		if err != nil || days < 0 || days > maxPruneDays {
			return 0, usageErrorf("--cache-prune takes a number of days from 0 to %d, not %q", maxPruneDays, operands[0])
		}
		return days, nil
	}
	return 0, usageErrorf("--cache-prune takes at most one operand, DAYS")
}
