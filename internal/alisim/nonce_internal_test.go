package alisim

import (
	"fmt"
	"testing"
	"time"
)

func TestNonceCacheExpiresAndIsBounded(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newNonceCache(3)
	if !c.use("a", t0) {
		t.Fatal("first use of a rejected")
	}
	if c.use("a", t0.Add(nonceWindow-time.Second)) {
		t.Error("a reused within the window was accepted")
	}
	if !c.use("a", t0.Add(nonceWindow+time.Second)) {
		t.Error("a reused after the window was rejected")
	}
	for i := range 10 {
		c.use(fmt.Sprint("n", i), t0.Add(nonceWindow+2*time.Second))
	}
	if n := c.len(); n != 3 {
		t.Errorf("%d nonces remembered, want the bound 3", n)
	}
	if c.use("n9", t0.Add(nonceWindow+3*time.Second)) {
		t.Error("recent nonce n9 forgotten")
	}
	if !c.use("n0", t0.Add(nonceWindow+3*time.Second)) {
		t.Error("oldest nonce n0 still remembered beyond the bound")
	}
}

func TestStringToSignMatchesSpec(t *testing.T) {
	t.Parallel()
	// Worked by hand from the spec: sorted, each k=v percent-encoded, joined
	// with &, the whole percent-encoded again; "*" → %2A, " " → %20, "~" kept.
	p := map[string]string{"b": "x y*~", "a": "1", "Signature": "ignored", "SignatureType": ""}
	want := "POST&%2F&SignatureType%3D%26a%3D1%26b%3Dx%2520y%252A~"
	if got := StringToSign("POST", p); got != want {
		t.Errorf("StringToSign = %q, want %q", got, want)
	}
	if got := PercentEncode("a b*c~d/"); got != "a%20b%2Ac~d%2F" {
		t.Errorf("PercentEncode = %q", got)
	}
	// HMAC-SHA1("key&", "data"), base64.
	if got := Sign("data", "key"); got != "Hc74fuYQh+M5l3zdafPZ+Sdi+pY=" {
		t.Errorf("Sign = %q", got)
	}
}
