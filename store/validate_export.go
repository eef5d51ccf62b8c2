package store

// ValidatePoll returns the error WritePolls would refuse p with (wrapping
// ErrInvalidPoll), or nil when the store accepts it. It writes nothing; the
// ingest fuzz tests use it to check that every poll built from an API
// response is one the store takes.
func ValidatePoll(p *Poll) error {
	return validatePoll(p)
}
