// Command lagtrail records the history of Kafka consumer-group progress on
// Alibaba Cloud Message Queue for Kafka into PostgreSQL.
//
// It is the only place that reads flags, environment variables and files:
// it turns them into the Config structs of the library packages (ingest,
// store, migrations) and wires those together. See README.md for the
// commands and the configuration reference.
//
// The HTTP API of serve (and record --listen) is the query, report and
// export commands themselves: each request builds the command tree, checks
// its parameters against the command's flags, and runs the command with
// the response as its output, so that both answer the same by
// construction.
package main
