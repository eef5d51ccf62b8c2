package scenario

import (
	"log/slog"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

// Fleet returns the scenario's instances and groups as the simulated
// endpoint lists them. Their offsets come from Progress, so the groups carry
// no topics.
func (m *Model) Fleet() alisim.Fleet {
	var f alisim.Fleet
	for _, inst := range m.scn.Instances {
		ai := alisim.Instance{Region: inst.Region, ID: inst.ID, Name: inst.Name}
		if ai.Name == "" {
			ai.Name = inst.ID
		}
		for _, g := range inst.Groups {
			ai.Groups = append(ai.Groups, alisim.Group{ID: g.ID, Remark: g.Remark})
		}
		f.Instances = append(f.Instances, ai)
	}
	return f
}

// ServerConfig returns the configuration of a simulated alikafka endpoint
// that serves the model at the real time, with the scenario's fault rates,
// accepting the given AccessKey pairs.
func (m *Model) ServerConfig(credentials map[string]string, logger *slog.Logger) alisim.Config {
	rates := make(map[alisim.Fault]float64, len(m.scn.Faults))
	for name, r := range m.scn.Faults {
		rates[alisim.Fault(name)] = r
	}
	return alisim.Config{
		Fleet:       m.Fleet(),
		Credentials: credentials,
		Epoch:       m.start,
		FaultRates:  rates,
		Seed:        int64(m.scn.Seed),
		HangFor:     time.Minute,
		Logger:      logger,
		Progress: func(region, instance, group string, at time.Time) alisim.GroupProgress {
			gp, _ := m.Progress(store.GroupRef{Region: region, InstanceID: instance, Group: group}, at)
			return gp
		},
	}
}
