// Package randhist writes random poll histories for tests that check two
// implementations of the status rules against each other (the SQL views,
// store.PartitionStates, query.Tracker): idle partitions that get a message
// now and then, steady consumers, troubled ones (stalls, rewinds, resets,
// broker offsets going back), consumers falling behind, and consumers polled
// every second that commit every 5 s; with gaps and jittered poll times.
//
// It may import the standard library and lagtrail/store. Only test code may
// import it.
package randhist
