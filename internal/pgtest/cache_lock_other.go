//go:build !unix

package pgtest

import (
	"context"
	"errors"
)

// lock is not available here: the cache is used without sharing.
func (e entry) lock(context.Context) (func(), error) {
	return nil, errors.New("no file locks on this system")
}
