package store

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestDictionaryCacheAfterRollback makes a write fail after it created new
// dictionary rows, and checks that the rolled-back keys never reach the
// cache: the next write must create the rows again, not reuse dead keys
// (raw_polls has no foreign key, so a dead group key would store a poll that no
// view shows).
func TestDictionaryCacheAfterRollback(t *testing.T) {
	t.Parallel()
	s, pool := openInternal(t)
	at := time.Date(2025, 3, 15, 1, 2, 3, 0, time.UTC)
	if _, err := s.EnsurePartitions(t.Context(), at, 1); err != nil {
		t.Fatal(err)
	}
	// Make the INSERT into raw_polls fail, after the dictionary upserts.
	_, err := pool.Exec(t.Context(), `
CREATE FUNCTION lagtrail.test_fail() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'test: refused' USING ERRCODE = 'P0001'; END $$;
CREATE TRIGGER test_fail BEFORE INSERT ON lagtrail.raw_polls_20250315
FOR EACH ROW EXECUTE FUNCTION lagtrail.test_fail();`)
	if err != nil {
		t.Fatal(err)
	}
	g := GroupRef{Region: "r", InstanceID: "i", Group: "g"}
	p := &Poll{Group: g, StartedAt: at, SampledAt: at, OK: true, Topics: []TopicSample{
		{Topic: "t", Partitions: []PartitionOffsets{{Partition: 0, BrokerOffset: 2, ConsumerOffset: 1}}},
	}}
	var pgErr *pgconn.PgError
	if err := s.WritePoll(t.Context(), p); !errors.As(err, &pgErr) || pgErr.Message != "test: refused" {
		t.Fatalf("WritePoll error = %v, want the trigger's", err)
	}
	if n := len(s.dict.regions) + len(s.dict.instances) + len(s.dict.groups) + len(s.dict.topics); n != 0 {
		t.Errorf("cache holds %d keys after a rolled-back write, want 0", n)
	}
	if _, err := pool.Exec(t.Context(), `DROP TRIGGER test_fail ON lagtrail.raw_polls_20250315`); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePoll(t.Context(), p); err != nil {
		t.Fatalf("WritePoll after the trigger is gone: %v", err)
	}
	polls, err := s.ReadPolls(t.Context(), Range{})
	if err != nil {
		t.Fatal(err)
	}
	if len(polls) != 1 || polls[0].Group != g {
		t.Errorf("ReadPolls = %+v, want the poll of %+v (a dead cached key hides it)", polls, g)
	}
	var groupKey, topicKey int32
	if err := pool.QueryRow(t.Context(), `SELECT group_key, topic_key FROM lagtrail.partition_samples`).Scan(&groupKey, &topicKey); err != nil {
		t.Fatal(err)
	}
	// Committed keys are cached, and equal to the stored ones.
	if k, ok := s.dict.cachedGroup(g); !ok || k != groupKey {
		t.Errorf("cached group key = %d, %v; want %d, true", k, ok, groupKey)
	}
	if k, ok := s.dict.topics["t"]; !ok || k != topicKey {
		t.Errorf("cached topic key = %d, %v; want %d, true", k, ok, topicKey)
	}
	if len(s.dict.regions) != 1 || len(s.dict.instances) != 1 {
		t.Errorf("cached regions %v, instances %v; want one each", s.dict.regions, s.dict.instances)
	}
}

func TestIsMissingPartition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no partition", &pgconn.PgError{Code: "23514", Message: `no partition of relation "raw_polls" found for row`, TableName: "raw_polls"}, true},
		{"wrapped", errors.Join(errors.New("x"), &pgconn.PgError{Code: "23514"}), true},
		{"check constraint", &pgconn.PgError{Code: "23514", ConstraintName: "raw_polls_check"}, false},
		{"other code", &pgconn.PgError{Code: "23505"}, false},
		{"not a pg error", errors.New("23514"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := isMissingPartition(tt.err); got != tt.want {
			t.Errorf("%s: isMissingPartition = %v, want %v", tt.name, got, tt.want)
		}
	}
}
