package main

import (
	"os"
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/internal/scenario"
)

// TestReadmeScenarioParses checks that the scenario example in README.md's
// Scenarios section is a valid scenario.
func TestReadmeScenarioParses(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "### Scenarios")
	if !ok {
		t.Fatal("README has no Scenarios section")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("the Scenarios section has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	s, err := scenario.Parse([]byte(block))
	if err != nil {
		t.Fatalf("README scenario: %v", err)
	}
	if len(s.Incidents) == 0 || len(s.Instances[0].Topics[0].Bursts) == 0 {
		t.Errorf("README scenario lost its incident or burst: %+v", s)
	}
}
