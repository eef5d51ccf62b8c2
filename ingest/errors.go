package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

// Error codes lagtrail assigns to failures that carry no API error code.
const (
	// CodeTimeout: the call did not finish within the poll timeout.
	CodeTimeout = "Timeout"
	// CodeCanceled: the recorder stopped while the call was waiting.
	CodeCanceled = "Canceled"
	// CodeMalformedResponse: the body could not be decoded.
	CodeMalformedResponse = "MalformedResponse"
	// CodeInvalidResponse: the body decoded but describes impossible data,
	// such as the same partition twice.
	CodeInvalidResponse = "InvalidResponse"
	// CodeTransport: the request did not get an HTTP response.
	CodeTransport = "TransportError"
	// CodeClient: the SDK refused the call before sending it, for example
	// because no credentials were found.
	CodeClient = "ClientError"
	// CodeSDKPanic: the SDK panicked on a response it could not parse.
	CodeSDKPanic = "SDKPanic"
)

// errNotSent is returned by calls abandoned before a request was sent,
// because the recorder is stopping.
var errNotSent = &APIError{Code: CodeCanceled, Message: "recorder stopped before the request was sent"}

// APIError is a failed API call: an error code, a message and, where the
// API returned them, an HTTP status and a request id.
type APIError struct {
	// Code is the API's error code, or one of lagtrail's Code* constants.
	Code string
	// Message is the API's or the client's explanation.
	Message string
	// RequestID is the API's RequestId, when one came back.
	RequestID string
	// HTTPStatus is the response's status, 0 when there was no response.
	HTTPStatus int
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Throttled reports whether the error is the API's flow control, which calls
// for backing off.
func (e *APIError) Throttled() bool {
	return isThrottleCode(e.Code)
}

// maxMessage bounds the error message kept with a failed poll.
const maxMessage = 1000

// cleanText makes an API- or SDK-supplied string safe to store and log: valid
// UTF-8, no NUL or other control characters (PostgreSQL text cannot hold
// NUL, and a malformed body can put anything in an SDK error), at most max
// bytes.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isThrottleCode(code string) bool {
	return strings.HasPrefix(code, "Throttling") || code == "ONS_SYSTEM_FLOW_CONTROL"
}

// throttleTokens are looked for in the messages of bodies whose Code is a
// number, where the API puts the real reason in Message.
var throttleTokens = []string{"ONS_SYSTEM_FLOW_CONTROL", "Throttling.User", "Throttling.Api", "Throttling"}

// codeFromBody picks the error code of a body whose Code is numeric: a
// throttling token named in the message wins, then the number itself.
func codeFromBody(numeric int, message string) string {
	for _, tok := range throttleTokens {
		if strings.Contains(message, tok) {
			return tok
		}
	}
	return strconv.Itoa(numeric)
}

// signatureEcho ends the part of a SignatureDoesNotMatch message worth
// keeping: after it the API echoes its string to sign, which holds the
// request's SecurityToken.
const signatureEcho = "string to sign is:"

// requestQuery matches the query string of a request URL, which the SDK
// puts in transport errors and which holds AccessKeyId, SecurityToken and
// Signature.
var requestQuery = regexp.MustCompile(`(https?://[^\s"?]*)\?[^\s"]*`)

// scrub removes the request's credentials from an error message.
func scrub(s string) string {
	if i := strings.Index(s, signatureEcho); i >= 0 {
		s = s[:i+len(signatureEcho)] + " (not shown: it holds the request's credentials)"
	}
	return requestQuery.ReplaceAllString(s, "${1}?(query not shown)")
}

// classify turns whatever an SDK call returned into an *APIError whose
// message holds no credentials.
func classify(err error, callCtx context.Context) *APIError {
	ae := classifyError(err, callCtx)
	ae.Message = scrub(ae.Message)
	return ae
}

func classifyError(err error, callCtx context.Context) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	if cerr := callCtx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return &APIError{Code: CodeTimeout, Message: "no response within the poll timeout"}
		}
		return &APIError{Code: CodeCanceled, Message: "recorder stopped"}
	}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		if code == "" {
			code = "HTTP" + strconv.Itoa(se.HttpStatus())
		}
		return &APIError{Code: code, Message: se.Message(), RequestID: se.RequestId(), HTTPStatus: se.HttpStatus()}
	}
	var ce *sdkerrors.ClientError
	if errors.As(err, &ce) {
		switch ce.ErrorCode() {
		case sdkerrors.JsonUnmarshalErrorCode:
			return &APIError{Code: CodeMalformedResponse, Message: ce.Message() + ": " + causeOf(ce)}
		case sdkerrors.TimeoutErrorCode:
			return &APIError{Code: CodeTimeout, Message: ce.Message()}
		}
		var ne net.Error
		if errors.As(ce.OriginError(), &ne) && ne.Timeout() {
			return &APIError{Code: CodeTimeout, Message: ne.Error()}
		}
		if ce.OriginError() != nil {
			return &APIError{Code: CodeTransport, Message: ce.OriginError().Error()}
		}
		return &APIError{Code: CodeClient, Message: ce.ErrorCode() + ": " + ce.Message()}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &APIError{Code: CodeTimeout, Message: ne.Error()}
	}
	return &APIError{Code: CodeTransport, Message: err.Error()}
}

func causeOf(ce *sdkerrors.ClientError) string {
	if ce.OriginError() == nil {
		return ""
	}
	return ce.OriginError().Error()
}

// fromPanic describes a response that made the SDK panic, from what the
// transport captured. The known case is a non-2xx body whose Code is a
// number (aliyun/alibaba-cloud-sdk-go#534).
func fromPanic(recovered any, status int, body []byte) *APIError {
	var b struct {
		Code      json.RawMessage `json:"Code"`
		Message   string          `json:"Message"`
		RequestID string          `json:"RequestId"`
	}
	if status != 0 && json.Unmarshal(body, &b) == nil {
		var n int
		if json.Unmarshal(b.Code, &n) == nil {
			return &APIError{Code: codeFromBody(n, b.Message), Message: scrub(b.Message), RequestID: b.RequestID, HTTPStatus: status}
		}
		var s string
		if json.Unmarshal(b.Code, &s) == nil && s != "" {
			return &APIError{Code: s, Message: scrub(b.Message), RequestID: b.RequestID, HTTPStatus: status}
		}
	}
	return &APIError{Code: CodeSDKPanic, Message: fmt.Sprint(recovered), HTTPStatus: status}
}
