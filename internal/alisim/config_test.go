package alisim_test

import (
	"math"
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

func TestNewValidation(t *testing.T) {
	t.Parallel()
	creds := map[string]string{"id": "secret"}
	withPartition := func(p alisim.Partition) alisim.Fleet {
		return alisim.Fleet{Instances: []alisim.Instance{{Region: "r", ID: "i", Groups: []alisim.Group{{ID: "g", Topics: []alisim.Topic{{Name: "t", Partitions: []alisim.Partition{p}}}}}}}}
	}
	dupTopic := withPartition(alisim.Partition{})
	dupTopic.Instances[0].Groups[0].Topics = append(dupTopic.Instances[0].Groups[0].Topics, alisim.Topic{Name: "t"})
	tests := []struct {
		name    string
		cfg     alisim.Config
		wantErr string
	}{
		{"no credentials", alisim.Config{}, "no credentials"},
		{"empty secret", alisim.Config{Credentials: map[string]string{"id": ""}}, "empty access key id or secret"},
		{"duplicate instance", alisim.Config{Credentials: creds, Fleet: alisim.Fleet{Instances: []alisim.Instance{{Region: "a", ID: "x"}, {Region: "b", ID: "x"}}}}, `duplicate instance ID "x"`},
		{"instance without region", alisim.Config{Credentials: creds, Fleet: alisim.Fleet{Instances: []alisim.Instance{{ID: "x"}}}}, "empty Region"},
		{"duplicate group", alisim.Config{Credentials: creds, Fleet: alisim.Fleet{Instances: []alisim.Instance{{Region: "a", ID: "x", Groups: []alisim.Group{{ID: "g"}, {ID: "g"}}}}}}, `duplicate group ID "g"`},
		{"duplicate topic", alisim.Config{Credentials: creds, Fleet: dupTopic}, `duplicate topic "t"`},
		{"consumer ahead", alisim.Config{Credentials: creds, Fleet: withPartition(alisim.Partition{BrokerStart: 1, ConsumerStart: 2})}, "exceeds BrokerStart"},
		{"negative rate", alisim.Config{Credentials: creds, Fleet: withPartition(alisim.Partition{ProduceRate: -1})}, "invalid ProduceRate"},
		{"NaN rate", alisim.Config{Credentials: creds, Fleet: withPartition(alisim.Partition{ConsumeRate: math.NaN()})}, "invalid ConsumeRate"},
		{"unknown fault rate", alisim.Config{Credentials: creds, FaultRates: map[alisim.Fault]float64{"nope": 0.1}}, "unknown fault"},
		{"rates above one", alisim.Config{Credentials: creds, FaultRates: map[alisim.Fault]float64{alisim.FaultHang: 0.6, alisim.FaultThrottling: 0.6}}, "exceeds 1"},
		{"rate out of range", alisim.Config{Credentials: creds, FaultRates: map[alisim.Fault]float64{alisim.FaultHang: 1.5}}, "outside [0,1]"},
		{"negative hang", alisim.Config{Credentials: creds, HangFor: -1}, "negative HangFor"},
		{"valid", alisim.Config{Credentials: creds, Fleet: alisim.ExampleFleet()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := alisim.New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || srv == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestServiceStatusDefaultsToRunning(t *testing.T) {
	t.Parallel()
	srv, err := alisim.New(alisim.Config{Credentials: map[string]string{"id": "s"}, Fleet: alisim.Fleet{Instances: []alisim.Instance{{Region: "r", ID: "i"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Fleet().Instances[0].ServiceStatus; got != alisim.ServiceStatusRunning {
		t.Errorf("ServiceStatus %d, want %d", got, alisim.ServiceStatusRunning)
	}
}
