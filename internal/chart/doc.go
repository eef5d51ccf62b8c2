// Package chart renders time-series line charts to PNG and SVG files, for the
// reports of lagtrail: lag by partition, production against consumption rate and
// time lag in `lagtrail demo`, and the figures of Markdown incident and capacity
// reports.
//
// A [Chart] holds named [Series] of timestamped values, optional [Marker] lines
// (an incident at 02:10) and [Band] intervals (a STALL status). It draws them with
// gonum.org/v1/plot, so the package does no rasterising of its own: it chooses
// the axes, ticks, colours and legend so that a chart reads well without tuning.
//
//   - The time axis is in UTC. Its tick labels suit spans from seconds to months
//     ("15:04" within a day, "Jan 02" for days) and its label states the range.
//   - The y axis starts at 0 when no value is negative. Tick labels are
//     humanised (950, 1.2k, 3.4M) or, for [UnitSeconds], durations (45s, 5m, 2h).
//   - The legend stands right of the plot area, so it never covers data. Up to
//     12 series (fewer on a short chart) each get a colour and an entry. With more,
//     all are drawn, the ones with the largest maxima get colours and entries,
//     and the rest are drawn in grey under one "N others" entry.
//   - A NaN value is a gap: the line breaks there.
//   - A series of buckets, each point the last of several samples, also gives
//     each bucket's maximum (Series.Max): the chart shades the band from the
//     line up to the maxima in the line's colour, translucent, under all the
//     lines, so that a peak between two points is never hidden. The legend's
//     thumbnail shows the shade above the line. Where a bucket holds one
//     sample, the maximum is the value and the band is empty.
//   - A series with more points than the chart has pixel columns is downsampled
//     before drawing: each column keeps the first, the smallest, the largest and
//     the last point of the column (the M4 method), so spikes and the line's
//     shape survive while the work per series stays bounded by the chart width.
//
// SVG files name the font (Liberation Sans) without embedding it; viewers without
// it substitute their default font.
//
// The package may import the standard library and gonum.org/v1/plot (with its
// sub-packages) only. It knows nothing of Kafka or PostgreSQL: callers turn query
// results into series.
package chart
