package container

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// persistRoots makes a host directory and a view directory, fills them
// with files and opens both as roots. The maps go from path to content.
// A trailing "/" makes a directory, and content "->T" a symbolic link to T.
func persistRoots(t *testing.T, host, view map[string]string) (hostDir string, hostRoot, viewRoot *os.Root) {
	t.Helper()
	hostDir, viewDir := t.TempDir(), t.TempDir()
	fill(t, hostDir, host)
	fill(t, viewDir, view)
	var err error
	if hostRoot, err = os.OpenRoot(hostDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostRoot.Close() })
	if viewRoot, err = os.OpenRoot(viewDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viewRoot.Close() })
	return hostDir, hostRoot, viewRoot
}

func fill(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), p)
		default:
			err = os.WriteFile(p, []byte(content), 0o640)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listTree returns every path below dir with its content, as fill takes it.
func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type()&fs.ModeSymlink != 0:
			link, _ := os.Readlink(p)
			out[rel] = "->" + link
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSeedHostPath(t *testing.T) {
	tests := []struct {
		name      string
		host      map[string]string
		view      map[string]string
		rel       string
		wantDir   bool
		wantHost  map[string]string
		wantError string
	}{
		{
			name: "directory seeded from the payload",
			view: map[string]string{"conf/a": "A", "conf/sub/b": "B", "conf/link": "->a", "conf/empty/": ""},
			rel:  "conf", wantDir: true,
			wantHost: map[string]string{"conf/": "", "conf/a": "A", "conf/sub/": "", "conf/sub/b": "B", "conf/link": "->a", "conf/empty/": ""},
		},
		{
			name:     "file seeded from the payload",
			view:     map[string]string{"var/state": "0"},
			rel:      "var/state",
			wantHost: map[string]string{"var/": "", "var/state": "0"},
		},
		{
			name: "missing everywhere becomes a directory",
			rel:  "logs/app", wantDir: true,
			wantHost: map[string]string{"logs/": "", "logs/app/": ""},
		},
		{
			name: "existing host directory left alone",
			host: map[string]string{"conf/a": "host"},
			view: map[string]string{"conf/a": "payload", "conf/b": "payload"},
			rel:  "conf", wantDir: true,
			wantHost: map[string]string{"conf/": "", "conf/a": "host"},
		},
		{
			name:     "existing host file left alone",
			host:     map[string]string{"state": "41"},
			view:     map[string]string{"state": "0"},
			rel:      "state",
			wantHost: map[string]string{"state": "41"},
		},
		{
			name:      "host symlink rejected",
			host:      map[string]string{"conf": "->/etc"},
			rel:       "conf",
			wantHost:  map[string]string{"conf": "->/etc"},
			wantError: "is a symbolic link on the host",
		},
		{
			name:      "payload symlink rejected",
			view:      map[string]string{"conf": "->elsewhere"},
			rel:       "conf",
			wantHost:  map[string]string{},
			wantError: "is a symbolic link in the payload",
		},
		{
			name:      "parent leading outside rejected",
			host:      map[string]string{"out": "->/tmp"},
			rel:       "out/x",
			wantHost:  map[string]string{"out": "->/tmp"},
			wantError: "escapes",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hostDir, host, view := persistRoots(t, tc.host, tc.view)
			isDir, err := seedHostPath(host, view, tc.rel)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Errorf("seedHostPath(%q) error = %v, want %q", tc.rel, err, tc.wantError)
				}
			} else if err != nil || isDir != tc.wantDir {
				t.Errorf("seedHostPath(%q) = %v, %v, want %v, nil", tc.rel, isDir, err, tc.wantDir)
			}
			got := listTree(t, hostDir)
			if len(got) != len(tc.wantHost) {
				t.Errorf("host tree = %v, want %v", got, tc.wantHost)
			}
			for p, want := range tc.wantHost {
				if got[p] != want {
					t.Errorf("host %s = %q, want %q (tree %v)", p, got[p], want, got)
				}
			}
		})
	}
}

func TestSeedHostPathKeepsModes(t *testing.T) {
	hostDir, host, view := persistRoots(t, nil, map[string]string{"conf/secret": "s", "conf/ro/file": "f"})
	viewDir := view.Name()
	for p, mode := range map[string]os.FileMode{"conf/secret": 0o600, "conf/ro": 0o555, "conf": 0o750} {
		if err := os.Chmod(filepath.Join(viewDir, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := seedHostPath(host, view, "conf"); err != nil {
		t.Fatalf("seedHostPath(conf) = %v", err)
	}
	for p, want := range map[string]os.FileMode{"conf/secret": 0o600, "conf/ro": 0o555, "conf": 0o750, "conf/ro/file": 0o640} {
		info, err := os.Stat(filepath.Join(hostDir, p))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("host %s mode = %v, want %v", p, info.Mode().Perm(), want)
		}
	}
	if err := os.Chmod(filepath.Join(hostDir, "conf", "ro"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestMakeMountPoint(t *testing.T) {
	tests := []struct {
		name      string
		view      map[string]string
		rel       string
		isDir     bool
		want      string // entry expected in the view afterwards
		wantError string
	}{
		{"directory created", nil, "a/b", true, "a/b/", ""},
		{"file created", nil, "a/f", false, "a/f", ""},
		{"existing directory kept", map[string]string{"d/x": "1"}, "d", true, "d/x", ""},
		{"type mismatch", map[string]string{"d/x": "1"}, "d", false, "", "is a regular file on the host but a directory in the payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, view := persistRoots(t, nil, tc.view)
			err := makeMountPoint(view, tc.rel, tc.isDir)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Errorf("makeMountPoint(%q, %v) = %v, want %q", tc.rel, tc.isDir, err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("makeMountPoint(%q, %v) = %v", tc.rel, tc.isDir, err)
			}
			if _, ok := listTree(t, view.Name())[tc.want]; !ok {
				t.Errorf("view lacks %s after makeMountPoint: %v", tc.want, listTree(t, view.Name()))
			}
		})
	}
}

func TestValidPersistent(t *testing.T) {
	for _, rel := range []string{"logs", "var/lib/app", "a.b"} {
		if err := validPersistent(rel); err != nil {
			t.Errorf("validPersistent(%q) = %v, want nil", rel, err)
		}
	}
	for _, rel := range []string{"", ".", "..", "../x", "/etc", "a/../../b", "a//b", "a/"} {
		if err := validPersistent(rel); err == nil {
			t.Errorf("validPersistent(%q) = nil, want an error", rel)
		}
	}
}
