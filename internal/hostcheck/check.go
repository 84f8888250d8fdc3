package hostcheck

import (
	"fmt"
	"os"
	"strings"
)

// Fact is one line of the host report.
type Fact struct {
	Name  string
	Value string
}

// Report is the result of Check: the facts in the order they were
// checked, and the isolation an artifact started like this process gets.
type Report struct {
	Facts []Fact
	Mode  Isolation
	// ExecDir is the directory reduced isolation would unpack into, or ""
	// when no candidate allows it.
	ExecDir string
}

// sysctls are the kernel settings that decide whether unprivileged users
// may create user namespaces. Most kernels have only the first. Debian
// and Ubuntu kernels add the second, and Ubuntu kernels with AppArmor's
// restriction of user namespaces the third.
var sysctls = []string{
	"user.max_user_namespaces",
	"kernel.unprivileged_userns_clone",
	"kernel.apparmor_restrict_unprivileged_userns",
}

// Check probes this host with real namespaces, cgroups and mounts, and
// each probe cleans up after itself. getenv supplies the variables that
// choose the directory of reduced isolation.
func Check(getenv func(string) string) *Report {
	r := &Report{}
	r.add("effective uid", fmt.Sprint(os.Geteuid()))
	for _, name := range sysctls {
		r.add("sysctl "+name, readSysctl(name))
	}

	for _, mode := range Attempts(os.Geteuid()) {
		err := ProbeNamespaces(mode)
		r.add(mode.String(), verdict(err))
		if err == nil && r.Mode == 0 {
			r.Mode = mode
		}
	}

	listed, err := OverlayListed()
	switch {
	case err != nil:
		r.add("overlayfs in /proc/filesystems", err.Error())
	default:
		r.add("overlayfs in /proc/filesystems", yesNo(listed))
	}
	if r.Mode != 0 {
		r.add("overlayfs mount ("+r.Mode.String()+")", outcome(ProbeOverlay(r.Mode)))
	} else {
		r.add("overlayfs mount", "not tried: no namespace to try it in")
	}

	r.Facts = append(r.Facts, cgroupFacts()...)

	for _, dir := range TempDirCandidates(getenv) {
		s := CheckExecDir(dir)
		r.add("temporary directory "+dir, s.String())
		if s.Usable() && r.ExecDir == "" {
			r.ExecDir = dir
		}
	}
	if r.Mode == 0 {
		r.Mode = IsolationReduced
	}
	r.add("artifacts run with", r.describeMode())
	return r
}

func (r *Report) add(name, value string) {
	r.Facts = append(r.Facts, Fact{Name: name, Value: value})
}

// describeMode names the mode and, for reduced isolation, where it would
// unpack.
func (r *Report) describeMode() string {
	if r.Mode != IsolationReduced {
		return r.Mode.String()
	}
	if r.ExecDir == "" {
		return "reduced isolation, but no temporary directory allows it: artifacts fail to start"
	}
	return "reduced isolation, unpacking into " + r.ExecDir
}

// readSysctl returns a sysctl's value, or "not present".
func readSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if os.IsNotExist(err) {
		return "not present"
	}
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}

func verdict(err error) string {
	if err == nil {
		return "allowed"
	}
	return "refused: " + err.Error()
}

func outcome(err error) string {
	if err == nil {
		return "works"
	}
	return "failed: " + err.Error()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
