package pglocal

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestHaltAndResumeKeepData(t *testing.T) {
	t.Parallel()
	requireLocalBinaries(t)
	srv, err := StartLocal(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	url, err := srv.CreateDatabase(t.Context(), "outage")
	if err != nil {
		t.Fatal(err)
	}
	// A minute: far longer than connecting and a statement take on a
	// loaded machine; the halted server refuses at once.
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept AS SELECT 42 AS answer"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Halt(t.Context()); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	if err := srv.Halt(t.Context()); err == nil {
		t.Error("a second Halt succeeded; want an error saying postgres is not running")
	}
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("the halted server still answers")
	}
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if err := exec("DO $$ BEGIN IF (SELECT answer FROM kept) <> 42 THEN RAISE 'lost'; END IF; END $$"); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	if err := srv.Resume(t.Context()); err == nil {
		t.Error("Resume of a running server succeeded; want an error")
	}
}
