package scenario_test

import (
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/internal/scenario"
)

const base = `
instances:
  - id: i1
    region: cn-hangzhou
    topics: [{name: t, partitions: 4, rate: 100}]
    groups: [{id: g, topics: [t], capacity: 300}]
`

func TestParseRejectsBadScenarios(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"empty", "", "scenario is empty"},
		{"unknown key", base + "colour: red\n", `unknown key "colour"`},
		{"no instances", "seed: 1\n", "no instances"},
		{"bad duration", base + "poll_interval: soon\n", "want a duration such as 60s or 7d"},
		{"poll interval too short", base + "poll_interval: 100ms\n", "poll_interval 100ms"},
		{"unknown fault", base + "faults: {gremlins: 0.1}\n", `unknown fault "gremlins"`},
		{"fault rates over 1", base + "faults: {throttling: 0.7, hang: 0.5}\n", "add up to"},
		{"zero partitions", strings.Replace(base, "partitions: 4", "partitions: 0", 1), "partitions 0"},
		{"negative rate", strings.Replace(base, "rate: 100", "rate: -1", 1), "rate -1"},
		{"weekly of six", strings.Replace(base, "rate: 100", "rate: 100, weekly: [1,1,1,1,1,1]", 1), "weekly has 6 values"},
		{"unknown topic", strings.Replace(base, "topics: [t]", "topics: [nope]", 1), `topic "nope" is not a topic of the instance`},
		{"no capacity", strings.Replace(base, ", capacity: 300", "", 1), "capacity 0"},
		{"unknown kind", base + "incidents: [{kind: meltdown, group: g, at: 1h}]\n", `unknown kind "meltdown"`},
		{"unknown group", base + "incidents: [{kind: stall, group: nope, at: 1h, for: 5m}]\n", `no group "nope"`},
		{"stall without for", base + "incidents: [{kind: stall, group: g, at: 1h}]\n", "for: required"},
		{"seconds", base + "incidents: [{kind: stall, group: g, at: 90s, for: 5m}]\n", "at 1m30s: want whole minutes"},
		{"slow factor", base + "incidents: [{kind: slow, group: g, at: 1h, for: 5m, factor: 2}]\n", "factor 2"},
		{"rewind without messages", base + "incidents: [{kind: rewind, group: g, at: 1h}]\n", "messages 0"},
		{"partition out of range", base + "incidents: [{kind: rewind, group: g, topic: t, partitions: [9], at: 1h, messages: 5}]\n", "9 is not a partition"},
		{"topic kind with group", base + "incidents: [{kind: topic_recreated, group: g, topic: t, at: 1h}]\n", "group: not used"},
		{"two documents", base + "---\nseed: 2\n", "only one YAML document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := scenario.Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}
