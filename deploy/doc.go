// Package deploy holds lagtrail's deployment assets and the tests that check
// them. It has no code of its own.
//
// The assets:
//
//   - ../docker-compose.yml and ../Dockerfile: PostgreSQL, lagtrail migrate,
//     lagtrail record and Grafana, and, under the compose profile
//     "simulator", lagtrail simulate and lagtrail generate;
//   - lagtrail.yaml, lagtrail.simulator.yaml and simulator.env: the
//     recorder's configuration for Alibaba Cloud and for the simulator;
//   - postgres/initdb: the read-only login Grafana connects as;
//   - grafana/provisioning and grafana/dashboards: the data source and three
//     dashboards (fleet lag, group detail, capacity) over the views of
//     schema lagtrail.
//
// The tests run every dashboard query, with Grafana's macros and template
// variables expanded as Grafana expands them, against a migrated database
// holding generated history, as the read-only role. They check the compose
// file without Docker (its services, and that what it mounts exists), run
// the simulator profile's commands as local processes, and check that the
// Dockerfile builds a static binary run by a non-root user. README.md in
// this folder explains how to use the stack.
package deploy
