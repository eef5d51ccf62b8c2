package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// readDockerfile returns the instructions of a Dockerfile.
func readDockerfile(t *testing.T, p string) []instruction {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// goDirective finds go.mod's go version.
var goDirective = regexp.MustCompile(`(?m)^go (\d+\.\d+)`)

// TestDockerfile checks the image recipe: a Go build stage of go.mod's Go
// version making a static binary, and a final stage that holds only that
// binary and runs as a non-root user.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins := readDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	type stage struct {
		image, name string
		body        []instruction
	}
	var stages []stage
	for _, in := range ins {
		if in.cmd == "FROM" {
			var words []string
			for w := range strings.FieldsSeq(in.args) {
				if !strings.HasPrefix(w, "--") {
					words = append(words, w)
				}
			}
			s := stage{image: words[0]}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				s.name = words[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := goDirective.FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	build, final := stages[0], stages[len(stages)-1]
	if want := "golang:" + string(m[1]); !strings.HasPrefix(build.image, want) {
		t.Errorf("build stage FROM %s, want %s (go.mod's Go)", build.image, want)
	}
	var built bool
	for _, in := range build.body {
		if in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "go build") &&
			strings.Contains(in.args, "./cmd/lagtrail") {
			built = true
		}
	}
	if !built {
		t.Errorf("no RUN CGO_ENABLED=0 go build ... ./cmd/lagtrail in the build stage")
	}
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") && final.image != "scratch" {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", final.image)
	}
	var user, entrypoint, copied string
	for _, in := range final.body {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			if strings.Contains(in.args, "--from="+build.name) {
				copied = in.args
			}
		case "RUN":
			t.Errorf("RUN %s in the final stage: it has no shell", in.args)
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if copied == "" || entrypoint == "" {
		t.Errorf("final stage: COPY --from=%s %q, ENTRYPOINT %q; want the binary copied from the build stage and run", build.name, copied, entrypoint)
	}
}

// TestDockerignore checks that the build context keeps every file the
// binary is built from: the Go files and embedded files of every package of
// this module that cmd/lagtrail imports, and go.mod and go.sum.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	cmd := exec.Command("go", "list", "-deps",
		"-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`,
		"./cmd/lagtrail")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		dir, err := filepath.Rel(root, fields[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields[1:] {
			files = append(files, filepath.ToSlash(filepath.Join(dir, f)))
		}
	}
	if len(files) < 10 {
		t.Fatalf("go list found only %v", files)
	}
	for _, f := range files {
		if dockerIgnored(patterns, f) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", f)
		}
	}
	for _, f := range []string{"deploy/doc.go", "store/store_test.go", ".git/HEAD"} {
		if !dockerIgnored(patterns, f) {
			t.Errorf(".dockerignore keeps %s, which the build does not need", f)
		}
	}
}

// dockerIgnored reports whether the slash-separated path p is left out of
// the build context by patterns, as Docker reads .dockerignore: the last
// matching pattern wins, ! re-includes, and a pattern that matches a
// directory leaves out everything under it.
func dockerIgnored(patterns []string, p string) bool {
	ignored := false
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimPrefix(path.Clean(strings.TrimPrefix(pat, "!")), "/")
		for q := p; q != "." && q != ""; q = path.Dir(q) {
			if globMatch(strings.Split(pat, "/"), strings.Split(q, "/")) {
				ignored = !neg
				break
			}
		}
	}
	return ignored
}

// globMatch matches path segments against pattern segments, where ** stands
// for any number of segments.
func globMatch(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if globMatch(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], segs[0])
	return err == nil && ok && globMatch(pat[1:], segs[1:])
}
