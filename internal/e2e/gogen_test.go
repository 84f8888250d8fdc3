package e2e

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	// proxyVersion is the version the local module proxy serves parker at.
	proxyVersion = "v0.99.0"
	modulePath   = "github.com/parkerpack/parker"
	// generateLine is the directive in examples/gogen/main.go.
	generateLine = "//go:generate parker\n"
)

// goGenerate runs "go generate" in dir with env added to the test's
// environment (without PARKER_RUNTIME) and returns its combined output.
func goGenerate(t *testing.T, dir string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", "generate")
	cmd.Dir = dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PARKER_RUNTIME=") })
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// exampleCopy copies examples/gogen into a directory named gogen and adds
// files that parker must leave out: a test file, testdata/ and vendor/.
func exampleCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(workdir(t), "gogen")
	copyExampleTree(t, filepath.Join(checkoutDir(t), "examples", "gogen"), dir)
	writeFile(t, filepath.Join(dir, "main_test.go"), "package main\n\nimport \"testing\"\n\nfunc TestNothing(t *testing.T) {}\n", 0o644)
	writeFile(t, filepath.Join(dir, "testdata", "case.txt"), "test input\n", 0o644)
	writeFile(t, filepath.Join(dir, "vendor", "README"), "vendored\n", 0o644)
	return dir
}

// setDirective replaces the example's go:generate line.
func setDirective(t *testing.T, dir, line string) {
	t.Helper()
	file := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(generateLine)) {
		t.Fatalf("%s has no %q line", file, strings.TrimSpace(generateLine))
	}
	writeFile(t, file, strings.Replace(string(src), generateLine, line, 1), 0o644)
}

// pathWithParker puts the directory of the built parker, which also holds
// parker-runtime, first on PATH.
func pathWithParker() string {
	return "PATH=" + filepath.Dir(parkerBin) + string(os.PathListSeparator) + os.Getenv("PATH")
}

func TestGoGenerateExample(t *testing.T) {
	requireCommands(t, "go")
	dir := exampleCopy(t)
	if out, err := goGenerate(t, dir, pathWithParker()); err != nil {
		t.Fatalf("go generate: %v\n%s", err, out)
	}
	art := filepath.Join(dir, "gogen-c")
	list, stderr, err := parker(t, dir, "--list", "--json", art)
	if err != nil {
		t.Fatalf("parker --list: %v\n%s", err, stderr)
	}
	if got, want := listedFiles(t, list), []string{"assets/greeting.txt", "gogen"}; !slices.Equal(got, want) {
		t.Errorf("gogen-c holds %q, want %q (no Go sources, go.mod, tests, testdata or vendor)", got, want)
	}
	if target := decodeList(t, list).Header.Target; target != "gogen" {
		t.Errorf("gogen-c target = %q, want gogen, the directory's name", target)
	}

	extracted := filepath.Join(t.TempDir(), "x")
	if _, stderr, err := parker(t, dir, "--extract", art, extracted); err != nil {
		t.Fatalf("parker --extract: %v\n%s", err, stderr)
	}
	program := filepath.Join(extracted, "gogen")
	if interp := elfInterpreter(t, program); interp != "" {
		t.Errorf("packed program is dynamically linked (%s), want a static build with CGO_ENABLED=0", interp)
	}
	if b, err := os.ReadFile(program); err != nil || bytes.Contains(b, []byte(dir)) {
		t.Errorf("packed program contains its build directory %s (error %v), want a -trimpath build", dir, err)
	}

	t.Run("run", func(t *testing.T) {
		requireRoot(t)
		tok := token(t)
		res := runArtifact(t, t.TempDir(), art, tok, "", "x")
		want := "Hello from the assets packed by go generate.\nargument 1: x\n"
		if res.stdout != want || res.status != 0 {
			t.Errorf("gogen-c x = %q, status %d (stderr %q); want %q, status 0", res.stdout, res.status, res.stderr, want)
		}
		assertNoLeftovers(t, tok, res.pid)
	})
}

func elfInterpreter(t *testing.T, file string) string {
	t.Helper()
	f, err := elf.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "has an ELF interpreter"
		}
	}
	return ""
}

func TestGoGenerateOptionsAndTargets(t *testing.T) {
	requireCommands(t, "go")
	tests := []struct {
		name      string
		directive string
		env       []string
		output    string // artifact expected, relative to the package directory
		wantErr   string
	}{
		{name: "output flag", directive: "//go:generate parker -q -o out/hello-c\n", output: "out/hello-c"},
		{name: "other OS", directive: generateLine, env: []string{"GOOS=darwin"}, wantErr: "GOOS=darwin, but parker artifacts run only on Linux"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := exampleCopy(t)
			setDirective(t, dir, tc.directive)
			if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := goGenerate(t, dir, append([]string{pathWithParker()}, tc.env...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(out, tc.wantErr) {
					t.Errorf("go generate with %q: error %v, output %q; want a failure containing %q", tc.env, err, out, tc.wantErr)
				}
				if matches, _ := filepath.Glob(filepath.Join(dir, "*-c")); len(matches) > 0 {
					t.Errorf("artifact written despite the error: %q", matches)
				}
				return
			}
			if err != nil {
				t.Fatalf("go generate: %v\n%s", err, out)
			}
			files := packedFiles(t, filepath.Join(dir, tc.output))
			if !slices.Equal(files, []string{"assets/greeting.txt", "gogen"}) {
				t.Errorf("%s holds %q, want assets/greeting.txt and gogen", tc.output, files)
			}
		})
	}
}

// moduleFiles returns the repository's files for a module zip: tracked
// and untracked ones that git does not ignore, minus bin/ and any nested
// module such as examples/gogen.
func moduleFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	names := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	var nested []string
	for _, n := range names {
		if path.Base(n) == "go.mod" && n != "go.mod" {
			nested = append(nested, path.Dir(n)+"/")
		}
	}
	var files []string
	for _, n := range names {
		if strings.HasPrefix(n, "bin/") || slices.ContainsFunc(nested, func(p string) bool { return strings.HasPrefix(n, p) }) {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(root, n)); err == nil && fi.Mode().IsRegular() {
			files = append(files, n)
		}
	}
	return files
}

// writeModuleProxy writes a GOPROXY directory that serves the working tree
// as github.com/parkerpack/parker at proxyVersion, in the layout of the
// module proxy protocol: @v/list, @v/VERSION.info, .mod and .zip, with
// every file of the zip under module@version/.
func writeModuleProxy(t *testing.T) string {
	t.Helper()
	root := checkoutDir(t)
	proxy := t.TempDir()
	vdir := filepath.Join(proxy, filepath.FromSlash(modulePath), "@v")
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(vdir, "list"), proxyVersion+"\n", 0o644)
	writeFile(t, filepath.Join(vdir, proxyVersion+".info"), `{"Version":"`+proxyVersion+`","Time":"2026-01-01T00:00:00Z"}`, 0o644)
	writeFile(t, filepath.Join(vdir, proxyVersion+".mod"), string(goMod), 0o644)

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range moduleFiles(t, root) {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(modulePath + "@" + proxyVersion + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(vdir, proxyVersion+".zip"), buf.String(), 0o644)
	return proxy
}

// goEnv returns one "go env" value.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// The directive form that needs no installed parker: go run fetches and
// builds parker at a version, here from a module proxy on the local disk,
// and that parker, with no parker-runtime beside it, is its own stub.
func TestGoGenerateWithGoRun(t *testing.T) {
	requireCommands(t, "go", "git")
	proxy := writeModuleProxy(t)
	// Dependencies come from the read-only download cache of the machine's
	// module cache; the module cache that go run fills is a fresh one.
	deps := filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download")
	dir := exampleCopy(t)
	setDirective(t, dir, "//go:generate go run "+modulePath+"/tools/parker@"+proxyVersion+" -q\n")

	out, err := goGenerate(t, dir,
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(deps),
		"GOSUMDB=off",
		"GOMODCACHE="+t.TempDir(),
		"GOFLAGS=-modcacherw",
		"GOTOOLCHAIN=local",
	)
	if err != nil {
		t.Fatalf("go generate: %v\n%s", err, out)
	}
	art := filepath.Join(dir, "gogen-c")
	list, stderr, err := parker(t, dir, "--list", "--json", art)
	if err != nil {
		t.Fatalf("parker --list: %v\n%s", err, stderr)
	}
	doc := decodeList(t, list)
	if doc.Header.ParkerVersion != proxyVersion {
		t.Errorf("gogen-c was packed by parker %q, want %s, the version go run fetched", doc.Header.ParkerVersion, proxyVersion)
	}
	stub, err := os.Stat(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	if doc.StubSize == stub.Size() {
		t.Errorf("gogen-c stub is %d bytes, the size of parker-runtime; want the go run build of parker", doc.StubSize)
	}
	if got := listedFiles(t, list); !slices.Equal(got, []string{"assets/greeting.txt", "gogen"}) {
		t.Errorf("gogen-c holds %q, want assets/greeting.txt and gogen", got)
	}

	t.Run("run", func(t *testing.T) {
		requireRoot(t)
		tok := token(t)
		res := runArtifact(t, t.TempDir(), art, tok, "")
		want := "Hello from the assets packed by go generate.\n"
		if res.stdout != want || res.status != 0 {
			t.Errorf("gogen-c = %q, status %d (stderr %q); want %q, status 0", res.stdout, res.status, res.stderr, want)
		}
		assertNoLeftovers(t, tok, res.pid)
	})
}
