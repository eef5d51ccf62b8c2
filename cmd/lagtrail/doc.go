// Command lagtrail records the history of Kafka consumer-group progress on
// Alibaba Cloud Message Queue for Kafka into PostgreSQL.
//
// It is the only place that reads flags, environment variables and files:
// it turns them into the Config structs of the library packages (ingest,
// store, migrations) and wires those together. See README.md for the
// commands and the configuration reference.
package main
