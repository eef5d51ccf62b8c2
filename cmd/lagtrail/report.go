package main

import "github.com/spf13/cobra"

func newReportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report capacity|incident",
		Short: "Write capacity planning and post-incident reports",
		Long: `report reads the recorded history and writes a report a person can act on:

  capacity  can a group absorb its peaks, and for how long will it
  incident  what happened to a group between two times

Both print a table by default and also write csv, json, or Markdown with
charts (--format markdown --out DIR).`,
	}
	cmd.AddCommand(newReportCapacityCmd(g), newReportIncidentCmd(g))
	return cmd
}
