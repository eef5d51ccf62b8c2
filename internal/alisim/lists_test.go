package alisim_test

import (
	"fmt"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

func consumerListRequest(instance string, page, size int) *alikafka.GetConsumerListRequest {
	req := alikafka.CreateGetConsumerListRequest()
	req.RegionId = "cn-hangzhou"
	req.InstanceId = instance
	if page > 0 {
		req.CurrentPage = requests.NewInteger(page)
	}
	if size > 0 {
		req.PageSize = requests.NewInteger(size)
	}
	return req
}

func instanceListRequest(region string) *alikafka.GetInstanceListRequest {
	req := alikafka.CreateGetInstanceListRequest()
	req.RegionId = region
	return req
}

func manyGroups(n int) alisim.Fleet {
	groups := make([]alisim.Group, n)
	for i := range groups {
		groups[i] = alisim.Group{ID: fmt.Sprintf("group-%02d", i), Remark: fmt.Sprintf("remark %d", i),
			Topics: []alisim.Topic{{Name: "t", Partitions: []alisim.Partition{{BrokerStart: 5, ConsumerStart: 1}}}}}
	}
	return alisim.Fleet{Instances: []alisim.Instance{
		{Region: "cn-hangzhou", ID: "inst-many", Name: "many", Groups: groups},
		{Region: "cn-hangzhou", ID: "inst-stopped", Name: "stopped", ServiceStatus: 10},
		{Region: "cn-beijing", ID: "inst-bj", Name: "beijing", Groups: groups[:2]},
	}}
}

func TestGetConsumerListPaging(t *testing.T) {
	t.Parallel()
	const total = 23
	_, ts := startServer(t, alisim.Config{Fleet: manyGroups(total)})
	client := newClient(t, ts, testKeyID, testSecret)
	tests := []struct {
		pageSize, wantSize, wantPages int
	}{
		{5, 5, 5},
		{10, 10, 3},
		{0, alisim.DefaultPageSize, 3},
		{500, alisim.MaxPageSize, 1},
	}
	for _, tt := range tests {
		seen := map[string]int{}
		pages := 0
		for page := 1; ; page++ {
			resp, err := client.GetConsumerList(consumerListRequest("inst-many", page, tt.pageSize))
			if err != nil {
				t.Fatalf("size %d page %d: %v", tt.pageSize, page, err)
			}
			if !resp.Success || resp.Total != total || resp.CurrentPage != page || resp.PageSize != tt.wantSize {
				t.Fatalf("size %d page %d: Success %v Total %d CurrentPage %d PageSize %d", tt.pageSize, page, resp.Success, resp.Total, resp.CurrentPage, resp.PageSize)
			}
			items := resp.ConsumerList.ConsumerVO
			if len(items) == 0 {
				break
			}
			pages++
			if len(items) > tt.wantSize {
				t.Errorf("page of %d items, size %d", len(items), tt.wantSize)
			}
			for _, vo := range items {
				seen[vo.ConsumerId]++
				if vo.InstanceId != "inst-many" || vo.RegionId != "cn-hangzhou" || vo.Remark == "" {
					t.Errorf("item %+v", vo)
				}
			}
		}
		if pages != tt.wantPages || len(seen) != total {
			t.Errorf("size %d: %d pages, %d groups; want %d pages, %d groups", tt.pageSize, pages, len(seen), tt.wantPages, total)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("size %d: %s listed %d times", tt.pageSize, id, n)
			}
		}
	}

	resp, err := client.GetConsumerList(consumerListRequest("inst-nope", 1, 10))
	if err != nil || resp.Success || resp.Code != 400 {
		t.Errorf("unknown instance: err %v resp %+v", err, resp)
	}
}

func TestGetInstanceList(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, alisim.Config{Fleet: manyGroups(3)})
	client := newClient(t, ts, testKeyID, testSecret)
	tests := []struct {
		region string
		want   map[string]int // InstanceId → ServiceStatus
	}{
		{"cn-hangzhou", map[string]int{"inst-many": 5, "inst-stopped": 10}},
		{"cn-beijing", map[string]int{"inst-bj": 5}},
		{"us-west-1", map[string]int{}},
	}
	for _, tt := range tests {
		resp, err := client.GetInstanceList(instanceListRequest(tt.region))
		if err != nil || !resp.Success || resp.Code != 200 {
			t.Fatalf("%s: err %v", tt.region, err)
		}
		got := map[string]int{}
		for _, vo := range resp.InstanceList.InstanceVO {
			got[vo.InstanceId] = vo.ServiceStatus
			if vo.RegionId != tt.region || vo.Name == "" {
				t.Errorf("%s: %+v", tt.region, vo)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.region, got, tt.want)
		}
	}

	req := instanceListRequest("cn-hangzhou")
	req.InstanceId = &[]string{"inst-stopped"}
	resp, err := client.GetInstanceList(req)
	if err != nil || len(resp.InstanceList.InstanceVO) != 1 || resp.InstanceList.InstanceVO[0].InstanceId != "inst-stopped" {
		t.Errorf("filtered by InstanceId: err %v %+v", err, resp.InstanceList.InstanceVO)
	}
}

// Groups appear and vanish with SetFleet.
func TestSetFleetDiscovery(t *testing.T) {
	t.Parallel()
	srv, ts := startServer(t, alisim.Config{Fleet: manyGroups(3)})
	client := newClient(t, ts, testKeyID, testSecret)
	ids := func() []string {
		resp, err := client.GetConsumerList(consumerListRequest("inst-many", 1, 100))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, vo := range resp.ConsumerList.ConsumerVO {
			out = append(out, vo.ConsumerId)
		}
		return out
	}
	if got := fmt.Sprint(ids()); got != "[group-00 group-01 group-02]" {
		t.Fatalf("before: %s", got)
	}
	f := manyGroups(3)
	f.Instances[0].Groups = append(f.Instances[0].Groups[1:], alisim.Group{ID: "newcomer"})
	if err := srv.SetFleet(f); err != nil {
		t.Fatal(err)
	}
	f.Instances[0].Groups[0].ID = "mutated-after-set" // must not leak into the server
	if got := fmt.Sprint(ids()); got != "[group-01 group-02 newcomer]" {
		t.Errorf("after: %s", got)
	}
	resp, err, p := getProgress(client, progressRequest("cn-hangzhou", "inst-many", "group-00", false))
	if err != nil || p != nil || resp.Success || resp.Code != 400 {
		t.Errorf("vanished group: err %v panic %v resp %+v", err, p, resp)
	}
	bad := manyGroups(2)
	bad.Instances[0].Groups[1].ID = bad.Instances[0].Groups[0].ID
	if err := srv.SetFleet(bad); err == nil {
		t.Errorf("SetFleet accepted duplicate groups")
	}
	if got := fmt.Sprint(ids()); got != "[group-01 group-02 newcomer]" {
		t.Errorf("after rejected SetFleet: %s", got)
	}
}
