package pglocal

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// debianPGRoot holds one directory per installed PostgreSQL major version on
// Debian and Ubuntu, each with a bin directory.
const debianPGRoot = "/usr/lib/postgresql"

// findBinDir returns a directory holding both initdb and postgres: only
// binDir when it is not empty, else the first found on PATH or under
// debianPGRoot.
func findBinDir(binDir string) (string, error) {
	if binDir != "" {
		if err := hasServerBinaries(binDir); err != nil {
			return "", fmt.Errorf("bin dir %s: %w", binDir, err)
		}
		return binDir, nil
	}
	var tried []string
	if initdb, err := exec.LookPath("initdb"); err == nil {
		// Resolve symlinks such as /usr/local/bin/initdb so that postgres
		// is taken from the same installation.
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = real
		}
		dir := filepath.Dir(initdb)
		if err := hasServerBinaries(dir); err == nil {
			return dir, nil
		}
		tried = append(tried, dir+" (from PATH) has initdb but no postgres")
	} else {
		tried = append(tried, "initdb not on PATH")
	}
	dirs, _ := filepath.Glob(filepath.Join(debianPGRoot, "*", "bin"))
	slices.SortFunc(dirs, func(a, b string) int { return compareVersions(versionOf(b), versionOf(a)) })
	for _, dir := range dirs {
		if hasServerBinaries(dir) == nil {
			return dir, nil
		}
	}
	if len(dirs) == 0 {
		tried = append(tried, "nothing under "+debianPGRoot+"/*/bin")
	} else {
		tried = append(tried, "no initdb and postgres in "+strings.Join(dirs, ", "))
	}
	return "", errors.New(strings.Join(tried, "; "))
}

// hasServerBinaries checks that dir holds executable initdb and postgres.
func hasServerBinaries(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("no %s: %w", name, err)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", filepath.Join(dir, name))
		}
	}
	return nil
}

// versionOf takes the version from /usr/lib/postgresql/<version>/bin.
func versionOf(binDir string) string {
	return filepath.Base(filepath.Dir(binDir))
}

// compareVersions orders dotted numeric versions ("9.6" < "15" < "16.1");
// parts that are not numbers compare as text.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, xerr := strconv.Atoi(x)
		yn, yerr := strconv.Atoi(y)
		switch {
		case xerr == nil && yerr == nil:
			if c := xn - yn; c != 0 {
				return c
			}
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}
