package pgtest

import (
	"strings"
	"testing"
)

func TestDatabaseName(t *testing.T) {
	for _, in := range []string{"TestX", "TestParallel/group/db01", "", "ÄÖÜ/ /__", strings.Repeat("TestVeryLong", 20)} {
		got := databaseName(in)
		if len(got) > 63 {
			t.Errorf("databaseName(%q) = %q: longer than 63 bytes", in, got)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Errorf("databaseName(%q) = %q: character %q", in, got, r)
			}
		}
		if !strings.HasPrefix(got, databasePrefix) {
			t.Errorf("databaseName(%q) = %q: no prefix", in, got)
		}
	}
	if databaseName("TestX") == databaseName("TestX") {
		t.Error("two names for the same test are equal")
	}
}
