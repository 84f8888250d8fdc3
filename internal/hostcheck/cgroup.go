package hostcheck

import (
	"fmt"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/cgroup"
)

// probeLimits are set on the throwaway cgroups to learn which limits this
// process could enforce. No process ever joins those cgroups.
var probeLimits = artifact.Limits{MemoryBytes: 1 << 30, Pids: 4096, CPUs: 1}

// cgroupFacts creates and removes one cgroup per version, and one as the
// runtime would (cgroup v2 first), to report which versions and limits
// this process may use.
func cgroupFacts() []Fact {
	h, err := cgroup.Detect()
	if err != nil {
		return []Fact{{"cgroup", err.Error()}}
	}
	facts := []Fact{
		{"cgroup v2 directory", orNone(h.Unified())},
		{"cgroup v1 freezer directory", orNone(h.Controller("freezer"))},
	}
	for _, mode := range []cgroup.Mode{cgroup.ModeV2, cgroup.ModeV1} {
		facts = append(facts, Fact{fmt.Sprintf("cgroup %v", mode), probeCgroup(h, mode)})
	}

	c, notices, err := h.Create(cgroup.ModeAuto, probeLimits, false)
	if err != nil {
		return append(facts, Fact{"resource limits", "not enforced: " + err.Error()})
	}
	defer c.Destroy()
	for _, n := range notices {
		facts = append(facts, Fact{"resource limits", n})
	}
	if len(notices) == 0 {
		facts = append(facts, Fact{"resource limits", fmt.Sprintf("memory, pids and cpu enforceable (cgroup %v)", c.Mode())})
	}
	return facts
}

// probeCgroup creates and removes a cgroup of mode without limits.
func probeCgroup(h *cgroup.Hierarchy, mode cgroup.Mode) string {
	c, notices, err := h.Create(mode, artifact.Limits{}, false)
	if err != nil {
		return "not usable: " + err.Error()
	}
	path := c.Path()
	got := c.Mode()
	if err := c.Destroy(); err != nil {
		return fmt.Sprintf("created %s but could not remove it: %v", path, err)
	}
	if got != mode && len(notices) > 0 {
		return "not usable: " + notices[0]
	}
	if got != mode {
		return fmt.Sprintf("not usable: cgroup %v was used instead", got)
	}
	return "writable"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
