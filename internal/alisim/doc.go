// Package alisim is a local stand-in for the alikafka (Alibaba Cloud Message
// Queue for Kafka) OpenAPI endpoint, API version 2019-09-16.
//
// A *Server is an http.Handler that speaks the Alibaba Cloud RPC protocol the
// way the official Go SDK (github.com/aliyun/alibaba-cloud-sdk-go,
// services/alikafka) sends it: POST with every parameter in the query string
// (form-body parameters are accepted too and merged for signing), HMAC-SHA1
// signature version 1.0, Format=JSON. It verifies signatures, timestamps and
// nonces, and answers GetConsumerProgress, GetConsumerList and
// GetInstanceList from an offset model (Fleet) whose partitions move at known
// produce and consume rates, optionally scripted to stall, change rates,
// rewind, reset to latest or have their topic recreated at given times
// (Partition.Script), so tests can compute the expected values with
// Partition.At and Partition.TimeLag. Faults (throttling, 5xx, hangs, malformed bodies,
// Success=false, numeric error codes, hidden timestamps) can be queued with
// Server.Inject or drawn at configured rates from a seeded RNG.
//
// Tests point the real SDK at it:
//
//	srv, _ := alisim.New(alisim.Config{Fleet: alisim.ExampleFleet(), Credentials: map[string]string{"id": "secret"}})
//	ts := httptest.NewServer(srv)
//	client, _ := alikafka.NewClientWithOptions("cn-hangzhou", sdk.NewConfig().WithScheme("HTTP"),
//		credentials.NewAccessKeyCredential("id", "secret"))
//	client.Domain = strings.TrimPrefix(ts.URL, "http://")
//
// # Wire choices for rejections
//
// Rejections use the gateway's JSON error shape with a string Code:
// {"RequestId","HostId","Code","Message","Recommend"}. Checks run in this
// order and the first failure wins:
//
//	400 InvalidParameter          the request could not be parsed
//	400 MissingParameter          a required common parameter (Action, Version, AccessKeyId,
//	                              Signature, SignatureMethod, SignatureVersion, SignatureNonce,
//	                              Timestamp) is absent or empty; the Message names it
//	400 InvalidParameter          Format is present and not JSON, SignatureMethod is not
//	                              HMAC-SHA1, or SignatureVersion is not 1.0
//	404 InvalidAction.NotFound    Action is not one of the three served actions
//	400 InvalidVersion            Version is not 2019-09-16
//	404 InvalidAccessKeyId.NotFound  AccessKeyId is not in Config.Credentials
//	400 InvalidTimeStamp.Format   Timestamp is not 2006-01-02T15:04:05Z
//	400 InvalidTimeStamp.Expired  Timestamp is more than 15 minutes off Config.WallClock
//	400 SignatureDoesNotMatch     the signature is wrong; the Message ends with
//	                              "server string to sign is:" + the server's string to sign,
//	                              as the real service does, so the SDK can tell a wrong secret
//	                              from a signing bug
//	400 SignatureNonceUsed        the (AccessKeyId, SignatureNonce) pair was seen in the last
//	                              15 minutes (only correctly signed requests are remembered)
//
// Then the request's fault, if any, applies (see Fault), and then the action:
//
//	400 MissingParameter          an action parameter is absent (RegionId for all three,
//	                              InstanceId for GetConsumerList and GetConsumerProgress,
//	                              ConsumerId for GetConsumerProgress)
//	400 InvalidParameter          CurrentPage or PageSize is not an integer
//
// Business errors (unknown instance or group, or an instance in another region)
// are HTTP 200 with {"Success":false,"Code":400,"Message":...}; the Message
// starts with BIZ_INSTANCE_NOT_FOUND or BIZ_SUBSCRIPTION_NOT_FOUND.
//
// The wire form of each fault is documented on the Fault constants.
//
// # Imports
//
// This package may import only the standard library. It must not import any
// other lagtrail package, so that any test or command can use it. Its tests
// additionally import the Alibaba Cloud SDK, which is the client under test.
package alisim
