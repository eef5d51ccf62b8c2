package alisim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
)

// PercentEncode is the RPC signature's percent-encoding: URL query escaping
// with "+" → "%20", "*" → "%2A" and "%7E" → "~".
func PercentEncode(s string) string {
	s = url.QueryEscape(s)
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	s = strings.ReplaceAll(s, "%7E", "~")
	return s
}

// StringToSign builds the RPC (signature version 1.0) string to sign:
//
//	method + "&%2F&" + PercentEncode(canonical)
//
// where canonical is every parameter except "Signature", sorted by key, as
// PercentEncode(key) + "=" + PercentEncode(value), joined by "&". This is
// exactly what the SDK's sdk/auth/rpc_signature_composer.go computes.
func StringToSign(method string, params map[string]string) string {
	vals := make(url.Values, len(params))
	for k, v := range params {
		if k == "Signature" {
			continue
		}
		vals.Set(k, v)
	}
	canonical := vals.Encode() // sorted by key, query-escaped
	canonical = strings.ReplaceAll(canonical, "+", "%20")
	canonical = strings.ReplaceAll(canonical, "*", "%2A")
	canonical = strings.ReplaceAll(canonical, "%7E", "~")
	return strings.ToUpper(method) + "&%2F&" + url.QueryEscape(canonical)
}

// Sign returns base64(HMAC-SHA1(secret+"&", stringToSign)), the value of the
// Signature parameter.
func Sign(stringToSign, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signatureMatches compares in constant time.
func signatureMatches(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
