package chart

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// sampleStart is the first instant of the sample charts, a Wednesday.
var sampleStart = time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)

// lagSeries returns n partitions of one point a step for span: a daily wave
// with noise, partition 0 much larger, and partition 3 stuck between stallFrom
// and stallTo, its lag growing until it drains.
func lagSeries(n int, span, step time.Duration, stallFrom, stallTo time.Time) []Series {
	rng := rand.New(rand.NewPCG(1, 2))
	points := int(span / step)
	series := make([]Series, n)
	for p := range series {
		base := 1500 + 150*float64(p)
		if p == 0 {
			base = 9000
		}
		pts := make([]Point, points)
		var stuck float64
		for i := range pts {
			t := sampleStart.Add(time.Duration(i) * step)
			day := math.Sin(2 * math.Pi * float64(t.Hour()*60+t.Minute()) / 1440)
			v := base*(1+0.6*day) + rng.Float64()*base*0.3
			if p == 3 && !t.Before(stallFrom) && t.Before(stallTo) {
				stuck += 900 * step.Minutes()
			} else if stuck > 0 {
				stuck = max(0, stuck-1500*step.Minutes())
			}
			pts[i] = Point{T: t, V: math.Max(0, v+stuck)}
		}
		series[p] = Series{Name: fmt.Sprintf("partition %d", p), Points: pts}
	}
	return series
}

// lagWeek is 7 days of 1-minute lag of 8 partitions, with an incident marker
// and a STALL band.
func lagWeek() Chart {
	stallFrom := sampleStart.Add(3*24*time.Hour + 2*time.Hour + 10*time.Minute)
	stallTo := stallFrom.Add(5 * time.Hour)
	return Chart{
		Title:   "Lag by partition, group orders-consumer",
		YLabel:  "lag (messages)",
		Series:  lagSeries(8, 7*24*time.Hour, time.Minute, stallFrom, stallTo),
		Markers: []Marker{{At: stallFrom, Label: "incident 02:10"}},
		Bands:   []Band{{From: stallFrom, To: stallTo, Label: "STALL"}},
	}
}

// lagWeek32 is 7 days of 1-minute lag of 32 partitions.
func lagWeek32() Chart {
	stallFrom := sampleStart.Add(4 * 24 * time.Hour)
	return Chart{
		Title:  "Lag by partition (32 partitions)",
		YLabel: "lag (messages)",
		Series: lagSeries(32, 7*24*time.Hour, time.Minute, stallFrom, stallFrom.Add(3*time.Hour)),
	}
}

// lagDay32 is a day of 1-minute lag of 32 partitions, stalled for 3 hours
// from 10:00.
func lagDay32() Chart {
	stallFrom := sampleStart.Add(10 * time.Hour)
	return Chart{
		Title:  "Lag by partition (32 partitions)",
		YLabel: "lag (messages)",
		Series: lagSeries(32, 24*time.Hour, time.Minute, stallFrom, stallFrom.Add(3*time.Hour)),
	}
}

// ratesHalfHour is 30 minutes of production and consumption rates every 10
// seconds, with a gap of missed polls in consumption.
func ratesHalfHour() Chart {
	start := sampleStart.Add(2*time.Hour + 55*time.Minute)
	var prod, cons []Point
	for i := range 180 {
		t := start.Add(time.Duration(i) * 10 * time.Second)
		p := 1_250_000 + 150_000*math.Sin(float64(i)/15)
		c := p * 0.97
		if i >= 80 && i < 95 {
			c = math.NaN()
		}
		prod = append(prod, Point{T: t, V: p})
		cons = append(cons, Point{T: t, V: c})
	}
	return Chart{
		Title:   "Production vs consumption, group orders-consumer",
		YLabel:  "messages/s",
		Series:  []Series{{Name: "produced", Points: prod}, {Name: "consumed", Points: cons}},
		Markers: []Marker{{At: start.Add(13 * time.Minute), Label: "deploy v2.3.1"}},
	}
}

// timeLagMonth is 30 days of hourly time lag of 3 groups, in seconds.
func timeLagMonth() Chart {
	var series []Series
	for g, name := range []string{"orders-consumer", "billing", "search-indexer"} {
		var pts []Point
		for i := range 30 * 24 {
			t := sampleStart.Add(time.Duration(i) * time.Hour)
			v := float64(30*(g+1)) + 20*math.Sin(float64(i)/5)
			if g == 2 && i > 400 && i < 430 {
				v += float64(i-400) * 300
			}
			pts = append(pts, Point{T: t, V: v})
		}
		series = append(series, Series{Name: name, Points: pts})
	}
	return Chart{
		Title:  "Time lag, last 30 days",
		YLabel: "time lag",
		YUnit:  UnitSeconds,
		Series: series,
		Bands: []Band{{From: sampleStart.Add(400 * time.Hour), To: sampleStart.Add(430 * time.Hour), Label: "STALL"},
			{From: sampleStart.Add(600 * time.Hour), To: sampleStart.Add(610 * time.Hour), Label: "ERR"}},
	}
}

// smallDay is 36 hours of 5-minute lag of 6 partitions at the smallest size.
func smallDay() Chart {
	from := sampleStart.Add(20 * time.Hour)
	c := Chart{
		Title:  "Lag, 36 hours",
		YLabel: "lag",
		Series: lagSeries(6, 36*time.Hour, 5*time.Minute, from, from.Add(2*time.Hour)),
		Width:  MinWidth,
		Height: MinHeight,
	}
	c.Markers = []Marker{{At: from, Label: "incident"}}
	return c
}

// lagWeekHourly is lagWeek in hourly buckets, as the rollups give it: each
// point is the hour's last minute, and Max its largest, so the stall's peak
// shows as a band above the line.
func lagWeekHourly() Chart {
	c := lagWeek()
	c.Title = "Lag by partition, hourly: last poll, shaded up to the hour's peak"
	for i, s := range c.Series {
		b := Series{Name: s.Name}
		for j, p := range s.Points {
			if j%60 == 0 {
				b.Points = append(b.Points, Point{T: p.T.Add(time.Hour)})
				b.Max = append(b.Max, math.Inf(-1))
			}
			k := len(b.Points) - 1
			b.Points[k].V = p.V
			b.Max[k] = max(b.Max[k], p.V)
		}
		c.Series[i] = b
	}
	return c
}
