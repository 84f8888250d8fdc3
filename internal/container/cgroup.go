package container

import (
	"fmt"
	"os"
	"syscall"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/cgroup"
)

// containerCgroup is the run's cgroup, or nothing when this host gives
// the runtime none; the pid namespace still ends every process then.
type containerCgroup struct {
	log *logger
	cg  *cgroup.Cgroup
	fd  int
}

// newContainerCgroup sweeps cgroups left by runtimes that were killed and
// creates this run's. PARKER_CGROUP=v1|v2 picks the hierarchy where both
// exist; PARKER_STRICT=1 makes an unenforceable limit an error.
func newContainerCgroup(log *logger, limits artifact.Limits) (*containerCgroup, error) {
	c := &containerCgroup{log: log, fd: -1}
	strict := os.Getenv("PARKER_STRICT") == "1"
	wantLimits := limits != (artifact.Limits{})

	h, err := cgroup.Detect()
	if err != nil {
		return c, c.unavailable(err, wantLimits, strict)
	}
	if err := h.Sweep(); err != nil {
		log.debugf("sweeping stale cgroups: %v", err)
	}
	prefer, err := cgroup.ParseMode(os.Getenv("PARKER_CGROUP"))
	if err != nil {
		return c, failf(StatusRuntimeFailure, "PARKER_CGROUP: %w", err)
	}
	h.Log = log.debugf
	cg, notices, err := h.Create(prefer, limits, strict)
	if err != nil {
		return c, c.unavailable(err, wantLimits, strict)
	}
	for _, n := range notices {
		log.noticef("%s", n)
	}
	c.cg = cg
	log.debugf("cgroup %s", cg.Path())
	return c, nil
}

func (c *containerCgroup) unavailable(err error, wantLimits, strict bool) error {
	if wantLimits && strict {
		return failf(StatusRuntimeFailure, "resource limits cannot be enforced (PARKER_STRICT=1): %w", err)
	}
	if wantLimits {
		c.log.noticef("resource limits not enforced: %v", err)
	} else {
		c.log.debugf("running without a cgroup: %v", err)
	}
	return nil
}

// prepare makes the init start inside the cgroup where the kernel allows
// it (cgroup v2), so not even its first instruction runs outside.
func (c *containerCgroup) prepare(sys *syscall.SysProcAttr) {
	if c.cg == nil || c.cg.Mode() != cgroup.ModeV2 {
		return
	}
	fd, err := c.cg.OpenFD()
	if err != nil {
		c.log.debugf("opening cgroup: %v", err)
		return
	}
	c.fd = fd
	sys.UseCgroupFD = true
	sys.CgroupFD = fd
}

// join moves pid into every directory of the cgroup.
func (c *containerCgroup) join(pid int) error {
	if c.fd >= 0 {
		_ = syscall.Close(c.fd)
		c.fd = -1
	}
	if c.cg == nil {
		return nil
	}
	if err := c.cg.AddProc(pid); err != nil {
		return fmt.Errorf("joining cgroup %s: %w", c.cg.Path(), err)
	}
	return nil
}

// destroy kills whatever is left in the cgroup and removes it.
func (c *containerCgroup) destroy() {
	if c.fd >= 0 {
		_ = syscall.Close(c.fd)
		c.fd = -1
	}
	if c.cg == nil {
		return
	}
	if err := c.cg.Destroy(); err != nil {
		c.log.noticef("removing cgroup %s: %v", c.cg.Path(), err)
	}
	c.cg = nil
}
