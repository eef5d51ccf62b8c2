package ingest

import (
	"context"
	"testing"
)

func TestFromPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   APIError
	}{
		{"numeric code", 500, `{"Code":500,"Message":"internal error","RequestId":"R1","Success":false}`,
			APIError{Code: "500", Message: "internal error", RequestID: "R1", HTTPStatus: 500}},
		{"numeric code naming flow control", 400, `{"Code":400,"Message":"ONS_SYSTEM_FLOW_CONTROL: too fast","RequestId":"R2"}`,
			APIError{Code: "ONS_SYSTEM_FLOW_CONTROL", Message: "ONS_SYSTEM_FLOW_CONTROL: too fast", RequestID: "R2", HTTPStatus: 400}},
		{"string code", 503, `{"Code":"ServiceUnavailable","Message":"busy"}`,
			APIError{Code: "ServiceUnavailable", Message: "busy", HTTPStatus: 503}},
		{"not json", 502, `<html>bad gateway</html>`,
			APIError{Code: CodeSDKPanic, Message: "boom", HTTPStatus: 502}},
		{"nothing captured", 0, ``,
			APIError{Code: CodeSDKPanic, Message: "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := fromPanic("boom", tt.status, []byte(tt.body))
			if *got != tt.want {
				t.Errorf("fromPanic = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestCheckSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		success   bool
		code      int
		message   string
		wantCode  string
		throttled bool
	}{
		{"success", true, 200, "operation success.", "", false},
		{"business error", false, 500, "ONS_SYSTEM_ERROR", "500", false},
		{"flow control in message", false, 400, "ONS_SYSTEM_FLOW_CONTROL", "ONS_SYSTEM_FLOW_CONTROL", true},
		{"throttling in message", false, 429, "Throttling.User: Request was denied", "Throttling.User", true},
		{"empty body", false, 0, "", CodeMalformedResponse, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkSuccess(tt.success, tt.code, tt.message, "R")
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("checkSuccess = %v, want nil", err)
				}
				return
			}
			ae := classify(err, context.Background())
			if ae.Code != tt.wantCode || ae.Throttled() != tt.throttled {
				t.Errorf("got code %q throttled %v, want %q %v", ae.Code, ae.Throttled(), tt.wantCode, tt.throttled)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "Throttling.User", 100, "Throttling.User"},
		{"nul and newline", "expect :, but found \x00\n at #10", 100, "expect :, but found  at #10"},
		{"invalid utf-8", "bad \xff\xfe byte", 100, "bad \uFFFD byte"},
		{"tab kept", "a\tb", 100, "a\tb"},
		{"cut on a rune boundary", "日本語テキスト", 7, "日本…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cleanText(tt.in, tt.max); got != tt.want {
				t.Errorf("cleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestScrubRemovesCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`Post "https://alikafka.cn-hangzhou.aliyuncs.com/?AccessKeyId=LTAI&SecurityToken=tok&Signature=sig": dial tcp: connection refused`,
			`Post "https://alikafka.cn-hangzhou.aliyuncs.com/?(query not shown)": dial tcp: connection refused`},
		{"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3Dtok",
			"Specified signature is not matched with our calculation. server string to sign is: (not shown: it holds the request's credentials)"},
		{"Throttling.User: too many requests", "Throttling.User: too many requests"},
	}
	for _, tt := range tests {
		if got := scrub(tt.in); got != tt.want {
			t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
