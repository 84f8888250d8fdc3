package pack

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResolveTargetThroughLinks(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	writeTestFile(t, filepath.Join(real, "bin", "app"), "#!/bin/sh\n", 0o755)
	writeTestFile(t, filepath.Join(base, "elsewhere", "app"), "#!/bin/sh\n", 0o755)
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/app", filepath.Join(real, "run")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin", filepath.Join(real, "tools")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, workdir, target, want string
	}{
		{"workdir through a link, target real", link, filepath.Join(real, "bin", "app"), "bin/app"},
		{"workdir real, target through a link", real, filepath.Join(link, "bin", "app"), "bin/app"},
		{"both through the link", link, filepath.Join(link, "bin", "app"), "bin/app"},
		{"target a link, kept as the link", link, filepath.Join(real, "run"), "run"},
		{"relative", link, "bin/app", "bin/app"},
		{"below a link inside", real, "tools/app", "tools/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveTarget(tc.workdir, tc.target)
			if err != nil || got != tc.want {
				t.Errorf("resolveTarget(%s, %s) = %q, %v; want %q", tc.workdir, tc.target, got, err, tc.want)
			}
		})
	}

	if err := os.Symlink(filepath.Join(base, "elsewhere"), filepath.Join(real, "linked")); err != nil {
		t.Fatal(err)
	}
	outside := []string{
		filepath.Join(base, "elsewhere", "app"),
		filepath.Join(link, "..", "elsewhere", "app"),
		filepath.Join(real, "linked", "app"),
		"linked/app",
	}
	for _, target := range outside {
		if _, err := resolveTarget(link, target); !errors.Is(err, ErrTarget) {
			t.Errorf("resolveTarget(%s, %s) error = %v, want ErrTarget", link, target, err)
		}
	}
}
