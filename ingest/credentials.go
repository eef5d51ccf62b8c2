package ingest

import (
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
)

// sharedCredentials serialises a credentials provider shared by every SDK
// client of a recorder. The SDK's DefaultCredentialsProvider is not safe for
// concurrent use, and after one failed lookup it keeps asking only the last
// provider of its chain; so on failure the default chain is rebuilt for the
// next call.
type sharedCredentials struct {
	mu      sync.Mutex
	p       credentials.CredentialsProvider
	rebuild func() credentials.CredentialsProvider
}

func newSharedCredentials(p credentials.CredentialsProvider) *sharedCredentials {
	s := &sharedCredentials{p: p}
	if p == nil {
		s.rebuild = func() credentials.CredentialsProvider { return credentials.NewDefaultCredentialsProvider() }
		s.p = s.rebuild()
	}
	return s
}

// GetCredentials implements credentials.CredentialsProvider.
func (s *sharedCredentials) GetCredentials() (*credentials.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.p.GetCredentials()
	if err != nil && s.rebuild != nil {
		s.p = s.rebuild()
	}
	return c, err
}

// GetProviderName implements credentials.CredentialsProvider.
func (s *sharedCredentials) GetProviderName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.GetProviderName()
}
