// Package strictyaml decodes one YAML document into a Go value, refusing
// unknown keys, and words the errors for people: "line 4: unknown key
// "intervall"".
//
// It may import only the standard library and gopkg.in/yaml.v3.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrEmpty is returned for a document with nothing in it.
var ErrEmpty = errors.New("file is empty")

var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// Decode decodes data into v. Unknown keys, type mismatches, a second
// document and an empty input are errors; the first problem is reported,
// with its line.
func Decode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := te.Errors[0]
			if m := unknownField.FindStringSubmatch(msg); m != nil {
				msg = fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
			}
			return errors.New(msg)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("only one YAML document is allowed")
	}
	return nil
}
