// Package webui serves lagtrail's web pages: the fleet view, the group view
// and the incident view, with their scripts, styles and the vendored chart
// library, all embedded in the binary. The pages hold no data: their
// scripts read it from the HTTP API (/api/v1/) in the browser.
//
// It imports only the standard library. The vendored files under
// assets/vendor/ are built from web/package-lock.json by web/build.sh.
package webui
