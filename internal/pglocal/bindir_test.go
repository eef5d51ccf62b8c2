package pglocal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"9.6", "15", -1}, {"16", "15", 1}, {"15", "15", 0}, {"15", "15.1", -1}, {"10", "9.6", 1},
	} {
		got := compareVersions(c.a, c.b)
		if (got > 0) != (c.want > 0) || (got < 0) != (c.want < 0) {
			t.Errorf("compareVersions(%q, %q) = %d, want sign %d", c.a, c.b, got, c.want)
		}
	}
}

// binDirWith makes a dir holding empty files initdb and postgres with mode.
func binDirWith(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindBinDirGiven(t *testing.T) {
	t.Parallel()
	if _, err := findBinDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no initdb") {
		t.Errorf("findBinDir(empty dir) = %v, want an error saying there is no initdb", err)
	}
	if _, err := findBinDir(binDirWith(t, 0o644)); err == nil || !strings.Contains(err.Error(), "not executable") {
		t.Errorf("findBinDir(dir of plain files) = %v, want an error saying initdb is not executable", err)
	}
	ok := binDirWith(t, 0o755)
	if got, err := findBinDir(ok); err != nil || got != ok {
		t.Errorf("findBinDir(%s) = %q, %v; want the dir itself", ok, got, err)
	}
}
