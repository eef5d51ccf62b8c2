package alisim

import (
	"fmt"
	"strconv"
	"strings"
)

// Paging of GetConsumerList.
const (
	// DefaultPageSize is the PageSize used when the request has none.
	DefaultPageSize = 10
	// MaxPageSize caps PageSize; larger requests get pages of this size, and
	// the response's PageSize says so.
	MaxPageSize = 100
)

const successMessage = "operation success."

// dispatch answers an authenticated request.
func (s *Server) dispatch(c *call) {
	switch c.params["Action"] {
	case ActionGetConsumerProgress:
		s.getConsumerProgress(c)
	case ActionGetConsumerList:
		s.getConsumerList(c)
	case ActionGetInstanceList:
		s.getInstanceList(c)
	}
}

// require rejects the call with MissingParameter when a parameter is absent.
func (c *call) require(names ...string) bool {
	for _, n := range names {
		if c.params[n] == "" {
			c.reject(400, "MissingParameter", fmt.Sprintf("The input parameter \"%s\" that is mandatory for processing this request is not supplied.", n))
			return false
		}
	}
	return true
}

func (c *call) instanceNotFound(region, id string) {
	c.businessFailure(400, fmt.Sprintf("BIZ_INSTANCE_NOT_FOUND: instance %s does not exist in region %s.", id, region))
}

// The GetConsumerProgress body, fields in the reference example's order.
type progressBody struct {
	Message          string            `json:"Message"`
	RequestID        string            `json:"RequestId"`
	ConsumerProgress consumerProgressJ `json:"ConsumerProgress"`
	Success          bool              `json:"Success"`
	Code             int               `json:"Code"`
}

type consumerProgressJ struct {
	TotalDiff         int64       `json:"TotalDiff"`
	LastTimestamp     int64       `json:"LastTimestamp"`
	TopicList         topicListJ  `json:"TopicList"`
	RebalanceInfoList *rebalanceJ `json:"RebalanceInfoList,omitempty"`
}

type topicListJ struct {
	TopicList []topicJ `json:"TopicList"`
}

type topicJ struct {
	TotalDiff     int64       `json:"TotalDiff"`
	LastTimestamp int64       `json:"LastTimestamp"`
	OffsetList    offsetListJ `json:"OffsetList"`
	Topic         string      `json:"Topic"`
}

type offsetListJ struct {
	OffsetList []offsetJ `json:"OffsetList"`
}

type offsetJ struct {
	Partition      int   `json:"Partition"`
	LastTimestamp  int64 `json:"LastTimestamp"`
	BrokerOffset   int64 `json:"BrokerOffset"`
	ConsumerOffset int64 `json:"ConsumerOffset"`
}

type rebalanceJ struct {
	RebalanceInfoList []rebalanceItemJ `json:"RebalanceInfoList"`
}

type rebalanceItemJ struct {
	Generation             int64  `json:"Generation"`
	LastRebalanceTimestamp int64  `json:"LastRebalanceTimestamp"`
	Reason                 string `json:"Reason"`
	GroupID                string `json:"GroupId"`
	RebalanceTimeConsuming int64  `json:"RebalanceTimeConsuming"`
	RebalanceSuccess       bool   `json:"RebalanceSuccess"`
}

// getConsumerProgress answers from the model at Now(): Config.Progress when it
// is set, else the group's Topics and Rebalances. Group TotalDiff is the
// sum of all partitions' BrokerOffset-ConsumerOffset, topic TotalDiff the sum
// over the topic; group and topic LastTimestamp are the maximum over their
// partitions (0 with no partitions). HideLastTimestamp=true (any case) or
// FaultHiddenTimestamps make every LastTimestamp -1.
func (s *Server) getConsumerProgress(c *call) {
	if !c.require("RegionId", "InstanceId", "ConsumerId") {
		return
	}
	region, instID, groupID := c.params["RegionId"], c.params["InstanceId"], c.params["ConsumerId"]
	hide := c.hideTimestamps || strings.EqualFold(c.params["HideLastTimestamp"], "true")
	now := s.now()

	s.fleetMu.RLock()
	inst, ok := s.fleet.instance(region, instID)
	if !ok {
		s.fleetMu.RUnlock()
		c.instanceNotFound(region, instID)
		return
	}
	g, ok := inst.group(groupID)
	if !ok {
		s.fleetMu.RUnlock()
		c.businessFailure(400, fmt.Sprintf("BIZ_SUBSCRIPTION_NOT_FOUND: consumer group %s does not exist in instance %s.", groupID, instID))
		return
	}
	topics, rebalances := g.Topics, g.Rebalances
	var progress GroupProgress
	if s.progress != nil {
		progress = s.progress(region, instID, groupID, now)
		topics, rebalances = nil, progress.Rebalances
	}
	cp := consumerProgressJ{TopicList: topicListJ{TopicList: make([]topicJ, 0, len(topics)+len(progress.Topics))}}
	for _, tp := range topics {
		tj := topicJ{Topic: tp.Name, OffsetList: offsetListJ{OffsetList: make([]offsetJ, 0, len(tp.Partitions))}}
		for i, p := range tp.Partitions {
			b, co, ts := p.At(s.epoch, now)
			tj.OffsetList.OffsetList = append(tj.OffsetList.OffsetList, offsetJ{Partition: i, LastTimestamp: ts, BrokerOffset: b, ConsumerOffset: co})
		}
		cp.TopicList.TopicList = append(cp.TopicList.TopicList, tj)
	}
	for _, tp := range progress.Topics {
		tj := topicJ{Topic: tp.Name, OffsetList: offsetListJ{OffsetList: make([]offsetJ, 0, len(tp.Partitions))}}
		for _, p := range tp.Partitions {
			tj.OffsetList.OffsetList = append(tj.OffsetList.OffsetList, offsetJ{Partition: p.Partition, LastTimestamp: p.LastTimestampMs, BrokerOffset: p.Broker, ConsumerOffset: p.Consumer})
		}
		cp.TopicList.TopicList = append(cp.TopicList.TopicList, tj)
	}
	allHidden := s.progress != nil
	for i := range cp.TopicList.TopicList {
		tj := &cp.TopicList.TopicList[i]
		for _, o := range tj.OffsetList.OffsetList {
			tj.TotalDiff += o.BrokerOffset - o.ConsumerOffset
			tj.LastTimestamp = max(tj.LastTimestamp, o.LastTimestamp)
			allHidden = allHidden && o.LastTimestamp == -1
		}
		cp.TotalDiff += tj.TotalDiff
		cp.LastTimestamp = max(cp.LastTimestamp, tj.LastTimestamp)
	}
	// A Progress that hides every partition's timestamp hides them all, as
	// HideLastTimestamp does.
	hide = hide || allHidden && len(cp.TopicList.TopicList) > 0
	if len(rebalances) > 0 {
		cp.RebalanceInfoList = &rebalanceJ{RebalanceInfoList: make([]rebalanceItemJ, 0, len(rebalances))}
		for _, rb := range rebalances {
			cp.RebalanceInfoList.RebalanceInfoList = append(cp.RebalanceInfoList.RebalanceInfoList, rebalanceItemJ{
				Generation:             rb.Generation,
				LastRebalanceTimestamp: rb.LastRebalanceTimestamp,
				Reason:                 rb.Reason,
				GroupID:                g.ID,
				RebalanceTimeConsuming: rb.RebalanceTimeConsuming,
				RebalanceSuccess:       rb.RebalanceSuccess,
			})
		}
	}
	s.fleetMu.RUnlock()

	if hide {
		cp.LastTimestamp = -1
		for i := range cp.TopicList.TopicList {
			tj := &cp.TopicList.TopicList[i]
			tj.LastTimestamp = -1
			for k := range tj.OffsetList.OffsetList {
				tj.OffsetList.OffsetList[k].LastTimestamp = -1
			}
		}
	}
	c.write(200, progressBody{
		Message:          successMessage,
		RequestID:        c.rec.RequestID,
		ConsumerProgress: cp,
		Success:          true,
		Code:             200,
	})
}

// The GetConsumerList body.
type consumerListBody struct {
	Code         int           `json:"Code"`
	Message      string        `json:"Message"`
	RequestID    string        `json:"RequestId"`
	Success      bool          `json:"Success"`
	Total        int64         `json:"Total"`
	PageSize     int           `json:"PageSize"`
	CurrentPage  int           `json:"CurrentPage"`
	ConsumerList consumerListJ `json:"ConsumerList"`
}

type consumerListJ struct {
	ConsumerVO []consumerVOJ `json:"ConsumerVO"`
}

type consumerVOJ struct {
	ConsumerID                string `json:"ConsumerId"`
	InstanceID                string `json:"InstanceId"`
	RegionID                  string `json:"RegionId"`
	Remark                    string `json:"Remark"`
	AutomaticallyCreatedGroup bool   `json:"AutomaticallyCreatedGroup"`
	Tags                      tagsJ  `json:"Tags"`
}

type tagsJ struct {
	TagVO []tagJ `json:"TagVO"`
}

type tagJ struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// pageParam parses an optional positive integer parameter; absent or <= 0
// gives def.
func (c *call) pageParam(name string, def int) (int, bool) {
	v := c.params[name]
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		c.reject(400, "InvalidParameter", fmt.Sprintf("The specified parameter \"%s\" value %q is not an integer.", name, v))
		return 0, false
	}
	if n <= 0 {
		return def, true
	}
	return n, true
}

// getConsumerList pages through the instance's groups in Fleet order.
// CurrentPage defaults to 1, PageSize to DefaultPageSize and is capped at
// MaxPageSize; a page past the end is empty. An optional ConsumerId keeps only
// groups whose ID contains it. Total counts all matching groups.
func (s *Server) getConsumerList(c *call) {
	if !c.require("RegionId", "InstanceId") {
		return
	}
	page, ok := c.pageParam("CurrentPage", 1)
	if !ok {
		return
	}
	size, ok := c.pageParam("PageSize", DefaultPageSize)
	if !ok {
		return
	}
	size = min(size, MaxPageSize)
	region, instID, filter := c.params["RegionId"], c.params["InstanceId"], c.params["ConsumerId"]

	s.fleetMu.RLock()
	inst, found := s.fleet.instance(region, instID)
	if !found {
		s.fleetMu.RUnlock()
		c.instanceNotFound(region, instID)
		return
	}
	var all []consumerVOJ
	for _, g := range inst.Groups {
		if filter != "" && !strings.Contains(g.ID, filter) {
			continue
		}
		all = append(all, consumerVOJ{
			ConsumerID: g.ID,
			InstanceID: inst.ID,
			RegionID:   inst.Region,
			Remark:     g.Remark,
			Tags:       tagsJ{TagVO: []tagJ{}},
		})
	}
	s.fleetMu.RUnlock()

	items := []consumerVOJ{}
	if start := (page - 1) * size; start < len(all) && start >= 0 {
		items = all[start:min(start+size, len(all))]
	}
	c.write(200, consumerListBody{
		Code:         200,
		Message:      successMessage,
		RequestID:    c.rec.RequestID,
		Success:      true,
		Total:        int64(len(all)),
		PageSize:     size,
		CurrentPage:  page,
		ConsumerList: consumerListJ{ConsumerVO: items},
	})
}

// The GetInstanceList body.
type instanceListBody struct {
	Code         int           `json:"Code"`
	Message      string        `json:"Message"`
	RequestID    string        `json:"RequestId"`
	Success      bool          `json:"Success"`
	InstanceList instanceListJ `json:"InstanceList"`
}

type instanceListJ struct {
	InstanceVO []instanceVOJ `json:"InstanceVO"`
}

type instanceVOJ struct {
	InstanceID         string `json:"InstanceId"`
	RegionID           string `json:"RegionId"`
	Name               string `json:"Name"`
	ServiceStatus      int    `json:"ServiceStatus"`
	SpecType           string `json:"SpecType"`
	DeployType         int    `json:"DeployType"`
	UsedGroupCount     int    `json:"UsedGroupCount"`
	UsedTopicCount     int    `json:"UsedTopicCount"`
	UsedPartitionCount int    `json:"UsedPartitionCount"`
	Tags               tagsJ  `json:"Tags"`
}

// getInstanceList lists the instances of RegionId in Fleet order, all on one
// page. Repeated InstanceId.N parameters, when present, keep only those IDs.
// SpecType is "normal", DeployType 5 (VPC), and the Used*Count fields count
// the model's groups, distinct topic names and partitions.
func (s *Server) getInstanceList(c *call) {
	if !c.require("RegionId") {
		return
	}
	region := c.params["RegionId"]
	want := map[string]bool{}
	for k, v := range c.params {
		if strings.HasPrefix(k, "InstanceId.") && v != "" {
			want[v] = true
		}
	}
	items := []instanceVOJ{}
	s.fleetMu.RLock()
	for _, inst := range s.fleet.Instances {
		if inst.Region != region || (len(want) > 0 && !want[inst.ID]) {
			continue
		}
		topics := map[string]bool{}
		parts := 0
		for _, g := range inst.Groups {
			for _, tp := range g.Topics {
				if !topics[tp.Name] {
					topics[tp.Name] = true
					parts += len(tp.Partitions)
				}
			}
		}
		items = append(items, instanceVOJ{
			InstanceID:         inst.ID,
			RegionID:           inst.Region,
			Name:               inst.Name,
			ServiceStatus:      inst.ServiceStatus,
			SpecType:           "normal",
			DeployType:         5,
			UsedGroupCount:     len(inst.Groups),
			UsedTopicCount:     len(topics),
			UsedPartitionCount: parts,
			Tags:               tagsJ{TagVO: []tagJ{}},
		})
	}
	s.fleetMu.RUnlock()
	c.write(200, instanceListBody{
		Code:         200,
		Message:      successMessage,
		RequestID:    c.rec.RequestID,
		Success:      true,
		InstanceList: instanceListJ{InstanceVO: items},
	})
}
