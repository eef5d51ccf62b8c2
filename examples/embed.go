// Package examples holds lagtrail's bundled example files: the simulator
// scenarios under scenarios/ and the example record configuration. The
// scenarios are embedded so that lagtrail demo and simulate can use them
// from any directory.
//
// It imports only the standard library.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed scenarios/*.yaml
var scenarios embed.FS

// Scenario returns the bundled scenario file of this name ("incident",
// "quiet", "capacity"), or an error listing the names there are.
func Scenario(name string) ([]byte, error) {
	data, err := scenarios.ReadFile("scenarios/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no bundled scenario %q: want one of %s", name, strings.Join(ScenarioNames(), ", "))
	}
	return data, nil
}

// ScenarioNames lists the bundled scenarios, sorted.
func ScenarioNames() []string {
	entries, _ := fs.ReadDir(scenarios, "scenarios") // embedded: cannot fail
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}
