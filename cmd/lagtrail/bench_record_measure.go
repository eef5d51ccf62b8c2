package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/store"
)

// promSample is one sample of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// promScrape is one scrape of a /metrics page.
type promScrape struct {
	at      time.Time
	samples []promSample
}

// scrapeMetrics fetches and parses addr's /metrics.
func scrapeMetrics(ctx context.Context, addr string) (promScrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	at := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return promScrape{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return promScrape{}, fmt.Errorf("scrape the recorder's metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return promScrape{}, fmt.Errorf("scrape the recorder's metrics: HTTP %d: %v", resp.StatusCode, err)
	}
	return promScrape{at: at, samples: parsePromText(string(body))}, nil
}

// parsePromText parses the Prometheus text exposition format, skipping
// comments and lines it cannot read. Label values may not contain '"'
// escapes beyond \" and \\, which is all the recorder's metrics need.
func parsePromText(text string) []promSample {
	var out []promSample
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s := promSample{}
		rest := line
		if i := strings.IndexAny(line, "{ "); i < 0 {
			continue
		} else {
			s.name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			if end < 0 {
				continue
			}
			s.labels = parsePromLabels(rest[1:end])
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

func parsePromLabels(s string) map[string]string {
	m := map[string]string{}
	for s != "" {
		eq := strings.Index(s, `="`)
		if eq < 0 {
			break
		}
		name := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s[:eq]), ","))
		s = s[eq+2:]
		var b strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				if s[i] == 'n' {
					b.WriteByte('\n')
					continue
				}
			}
			b.WriteByte(s[i])
		}
		m[name] = b.String()
		if i >= len(s) {
			break
		}
		s = s[i+1:]
	}
	return m
}

// sum adds the samples named name whose labels include every pair of match,
// and reports whether there was any.
func (p promScrape) sum(name string, match ...string) (float64, bool) {
	var total float64
	found := false
next:
	for _, s := range p.samples {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(match); i += 2 {
			if s.labels[match[i]] != match[i+1] {
				continue next
			}
		}
		total += s.value
		found = true
	}
	return total, found
}

// promBucket is one cumulative histogram bucket.
type promBucket struct {
	le    float64
	count float64
}

// histogram returns the buckets of histogram name, sorted by bound, summed
// over label sets, and reports whether it exists.
func (p promScrape) histogram(name string) ([]promBucket, bool) {
	byLE := map[float64]float64{}
	for _, s := range p.samples {
		if s.name != name+"_bucket" {
			continue
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			continue
		}
		byLE[le] += s.value
	}
	if len(byLE) == 0 {
		return nil, false
	}
	out := make([]promBucket, 0, len(byLE))
	for le, c := range byLE {
		out = append(out, promBucket{le, c})
	}
	slices.SortFunc(out, func(a, b promBucket) int { return cmpFloat(a.le, b.le) })
	return out, true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// bucketDelta subtracts an earlier scrape's buckets from a later one's.
func bucketDelta(later, earlier []promBucket) []promBucket {
	before := map[float64]float64{}
	for _, b := range earlier {
		before[b.le] = b.count
	}
	out := make([]promBucket, len(later))
	for i, b := range later {
		out[i] = promBucket{b.le, max(b.count-before[b.le], 0)}
	}
	return out
}

// bucketQuantile estimates quantile q of a cumulative histogram as
// Prometheus's histogram_quantile does: linear interpolation within the
// bucket holding the rank, from 0 for the first bucket; a rank in the +Inf
// bucket gives the highest finite bound. NaN when it holds nothing.
func bucketQuantile(q float64, b []promBucket) float64 {
	if len(b) == 0 || q < 0 || q > 1 {
		return math.NaN()
	}
	total := b[len(b)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, bk := range b {
		if bk.count >= rank && bk.count > below {
			if math.IsInf(bk.le, 1) {
				if i == 0 {
					return math.NaN()
				}
				return b[i-1].le
			}
			return lower + (bk.le-lower)*(rank-below)/(bk.count-below)
		}
		lower, below = bk.le, bk.count
	}
	return lower
}

// bucketShareAtMost estimates the share of observations at most x, by the
// same interpolation. NaN when the histogram holds nothing.
func bucketShareAtMost(x float64, b []promBucket) float64 {
	if len(b) == 0 || b[len(b)-1].count <= 0 {
		return math.NaN()
	}
	total := b[len(b)-1].count
	lower, below := 0.0, 0.0
	for _, bk := range b {
		if x <= bk.le {
			if math.IsInf(bk.le, 1) {
				return below / total
			}
			return (below + (bk.count-below)*(x-lower)/(bk.le-lower)) / total
		}
		lower, below = bk.le, bk.count
	}
	return 1
}

// peakInWindow returns the most of the sorted times in any half-open window
// [t, t+w), and the first such t.
func peakInWindow(times []time.Time, w time.Duration) (int, time.Time) {
	best, j := 0, 0
	var at time.Time
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		if i-j+1 > best {
			best, at = i-j+1, times[j]
		}
	}
	return best, at
}

// overRate counts the sorted times that arrive when the window of length w
// ending with them, (t-w, t], holds more than limit: the requests a quota of
// limit per w would refuse, if it counted refused requests too.
func overRate(times []time.Time, w time.Duration, limit float64) int {
	n, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		if float64(i-j+1) > limit {
			n++
		}
	}
	return n
}

// longestGap returns the longest time between consecutive sorted times
// and when it ended.
func longestGap(times []time.Time) (time.Duration, time.Time) {
	var gap time.Duration
	var end time.Time
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d > gap {
			gap, end = d, times[i]
		}
	}
	return gap, end
}

// benchPoll is one answered GetConsumerProgress request.
type benchPoll struct {
	group store.GroupRef
	at    time.Time
}

// recordPunctuality is how punctually the polls of the window started.
type recordPunctuality struct {
	// Polls are the polls that reached the endpoint in the window.
	Polls int `json:"polls"`
	// Within are those at most ToleranceSeconds after their slot.
	Within      int     `json:"within_tolerance"`
	WithinShare float64 `json:"within_tolerance_share"`
	// Lateness quantiles (nearest rank) and maximum, in seconds.
	LatenessP50 float64 `json:"lateness_p50_seconds"`
	LatenessP99 float64 `json:"lateness_p99_seconds"`
	LatenessMax float64 `json:"lateness_max_seconds"`
	// Slots are the groups' slots lying wholly in the window; each should
	// hold exactly one poll. Missing have none; Doubled have more than
	// one, and Extra counts the polls beyond the first.
	Slots   int `json:"slots"`
	Missing int `json:"slots_missing"`
	Doubled int `json:"slots_doubled"`
	Extra   int `json:"extra_polls"`
}

// punctuality judges the polls of [from, to) against each group's slots
// (ingest.Slot). groups are every group the recorder should poll.
func punctuality(polls []benchPoll, groups []store.GroupRef, interval, tolerance time.Duration, from, to time.Time) recordPunctuality {
	var p recordPunctuality
	var late []time.Duration
	perSlot := map[store.GroupRef]map[int64]int{}
	for _, q := range polls {
		if q.at.Before(from) || !q.at.Before(to) {
			continue
		}
		slot := ingest.Slot(q.group, interval, q.at)
		d := q.at.Sub(slot)
		late = append(late, d)
		if d <= tolerance {
			p.Within++
		}
		m := perSlot[q.group]
		if m == nil {
			m = map[int64]int{}
			perSlot[q.group] = m
		}
		m[slot.UnixNano()]++
	}
	p.Polls = len(late)
	if p.Polls > 0 {
		slices.Sort(late)
		p.WithinShare = float64(p.Within) / float64(p.Polls)
		p.LatenessP50 = nearestRank(late, 0.50).Seconds()
		p.LatenessP99 = nearestRank(late, 0.99).Seconds()
		p.LatenessMax = late[len(late)-1].Seconds()
	}
	for _, g := range groups {
		// The first slot at or after from, then every interval while the
		// slot ends by to.
		s := ingest.Slot(g, interval, from)
		if s.Before(from) {
			s = s.Add(interval)
		}
		for ; !s.Add(interval).After(to); s = s.Add(interval) {
			p.Slots++
			switch n := perSlot[g][s.UnixNano()]; {
			case n == 0:
				p.Missing++
			case n > 1:
				p.Doubled++
				p.Extra += n - 1
			}
		}
	}
	return p
}

// nearestRank returns quantile q of sorted by the nearest-rank method.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
