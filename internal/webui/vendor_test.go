package webui

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestVendoredAssetsMatchLockfile runs web/build.sh in a scratch copy of
// web/ (npm ci of exactly what package-lock.json pins, then the copy) and
// checks that it yields byte for byte the files committed under
// assets/vendor/, and no others: the embedded chart library is the one the
// lockfile names, not a file edited or fetched by hand. It needs npm and
// the npm registry (or npm's cache); without npm it skips, unless
// LAGTRAIL_REQUIRE_NPM is set, as .ci/run sets it.
func TestVendoredAssetsMatchLockfile(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("npm"); err != nil {
		if os.Getenv("LAGTRAIL_REQUIRE_NPM") != "" {
			t.Fatalf("LAGTRAIL_REQUIRE_NPM is set but npm is not on PATH: %v", err)
		}
		t.Skipf("npm is not installed (Debian: apt-get install npm): %v", err)
	}
	root := t.TempDir()
	web := filepath.Join(root, "web")
	if err := os.Mkdir(web, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"package.json", "package-lock.json", "build.sh"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "web", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(web, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(web, "build.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("web/build.sh: %v\n%s", err, out)
	}

	built := filepath.Join(root, "internal", "webui", "assets", "vendor")
	got := vendorFiles(t, built)
	want := vendorFiles(t, filepath.Join("assets", "vendor"))
	if !slices.Equal(got, want) {
		t.Fatalf("web/build.sh writes %v, assets/vendor/ holds %v", got, want)
	}
	for _, name := range want {
		b, err := os.ReadFile(filepath.Join(built, name))
		if err != nil {
			t.Fatal(err)
		}
		c, err := os.ReadFile(filepath.Join("assets", "vendor", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, c) {
			t.Errorf("assets/vendor/%s (%d bytes) is not what web/build.sh builds from the lockfile (%d bytes): run web/build.sh and commit", name, len(c), len(b))
		}
	}
}

// vendorFiles returns the sorted names of the files in dir.
func vendorFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}
