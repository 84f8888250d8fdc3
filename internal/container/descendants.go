package container

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// killDescendantsTimeout bounds the rounds of killDescendants, against a
// process tree that keeps reappearing faster than it is killed.
const killDescendantsTimeout = 10 * time.Second

// killDescendants sends SIGKILL to every descendant of this process and
// reaps them, round after round until none is left. A process forked
// while its parent is being killed is reparented to this process, the
// child subreaper, and the next round finds it.
func (r *reducedRun) killDescendants() {
	self := os.Getpid()
	deadline := time.Now().Add(killDescendantsTimeout)
	for {
		pids, err := descendants(self)
		if err != nil {
			// Without /proc the target's process group is all that can be
			// found.
			r.log.noticef("finding the target's processes: %v", err)
			_ = unix.Kill(-r.target, unix.SIGKILL)
			reapExited()
			return
		}
		tree := make(map[int]bool, len(pids)+1)
		tree[self] = true
		for _, pid := range pids {
			tree[pid] = true
		}
		for _, pid := range pids {
			killInTree(pid, tree)
		}
		if !reapExited() && len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.log.noticef("processes of the target still running after %v: %v", killDescendantsTimeout, pids)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// killInTree sends SIGKILL to pid if it is still a process of tree. A
// pidfd pins the process while its parent is checked, so a pid that ended
// and was reused by an unrelated process since the scan is left alone.
func killInTree(pid int, tree map[int]bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ENOSYS {
		// NOTE: before Linux 5.3 there are no pidfds, and a pid reused
		// between the scan and this kill is not detected.
		_ = unix.Kill(pid, unix.SIGKILL)
		return
	}
	if err != nil {
		return // ended since the scan
	}
	defer unix.Close(fd)
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return
	}
	if ppid, ok := parentPid(stat); ok && tree[ppid] {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
}

// reapExited reaps every child that has ended and reports whether any
// child, ended or not, is left.
func reapExited() bool {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return false // ECHILD: no children at all
		case pid == 0:
			return true
		}
	}
}

// descendants lists the processes below root in the tree of parent pids
// read from /proc/PID/stat.
func descendants(root int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := make(map[int][]int)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended since the directory was read
		}
		if ppid, ok := parentPid(stat); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out = append(out, children[pid]...)
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

// parentPid reads the ppid from the contents of /proc/PID/stat,
// "PID (COMM) STATE PPID ...". COMM may contain spaces and parentheses,
// so the fields are counted from the last ')'.
func parentPid(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	return ppid, err == nil
}
