// Package spool is lagtrail's on-disk spool: an append-only, crash-safe
// queue of opaque records in one directory. The recorder appends encoded
// polls while PostgreSQL cannot take them, reads them back oldest first
// once it can, and acknowledges them when they are stored. The spool
// survives restarts; it is bounded, and when full it drops the oldest
// records, counting and logging them.
//
// # Use
//
// [Open] a directory, [Spool.Append] records, [Spool.Read] the oldest
// ones (Read does not remove them, so a failed database write is simply
// retried with the same records), then [Spool.Ack] the number read. The
// methods are safe for concurrent use; the intended use is one goroutine
// appending and one reading and acknowledging. Ack counts from the last
// Read: if Append drops records between a Read and its Ack, the dropped
// ones are skipped, never the ones after them.
//
// # Directory
//
//	LOCK                       flock(2)ed, exclusively, by the process that has the spool open
//	00000000000000000001.seg   segments: sequence number, 20 digits; lowest is oldest
//	ack                        acknowledgement state
//	*.tmp                      files being written; removed by Open
//	*.seg.corrupt[.N]          copies of damaged segments, kept for inspection only
//
// The spool never reads, counts or deletes the .corrupt files; an operator
// deletes them. Other files are ignored.
//
// # On-disk format
//
// All integers are little endian; every checksum is CRC-32C (Castagnoli).
//
// A segment starts with a 12-byte header: the magic "LTSP", the format
// version (1), three zero bytes, and the CRC of those 8 bytes. Records
// follow back to back, each framed as:
//
//	[0:4]   payload length n (at most 64 MiB)
//	[4:8]   CRC of the payload
//	[8:12]  CRC of bytes [0:8]
//	[12:12+n] payload
//
// The header checksum makes the length trustworthy on its own (a run of
// zero bytes is never a valid frame), and lets Open find valid frames
// after a damaged one. A record never spans segments; a new segment is
// started when the next record would take the current one past
// SegmentBytes.
//
// The state file "ack" is 28 bytes: the magic "LTSA", the version (1),
// three zero bytes, a segment sequence number (8 bytes), a byte offset
// (8 bytes) and the CRC of the preceding 24 bytes. It means that every
// record of the segments numbered below it, and every record of that
// segment starting below the offset, is acknowledged.
//
// # Crash guarantees
//
//   - A record is durable when Append returns nil: Append writes each
//     segment's share of the batch with one write and fsyncs it before it
//     starts the next segment or returns. Segments are created whole
//     (header written and fsynced under a .tmp name, renamed, directory
//     fsynced), and the directory is fsynced after files are removed or
//     renamed.
//   - Records come back in the order they were appended, each checked
//     against its checksum whenever it is read (at Open and by Read).
//   - A kill -9 or power loss at any moment leaves a spool that Open
//     accepts. Only the Append in flight can be lost, wholly or in part,
//     and only as a torn tail of the newest segment: the bytes from the
//     first bad frame to the end of the newest segment, when no valid frame
//     follows them. Open cuts it off (Stats.TornBytes, a Warn log).
//     Conversely, records of an Append that never returned may survive:
//     its records up to the crash, in particular those of each segment it
//     filled and synced. A caller that appends them again makes
//     duplicates, which idempotent database writes absorb. (A power loss
//     on a filesystem that writes an append's pages out of order can leave
//     valid frames after a torn one; that reads as corruption, below, but
//     still loses only records of the Append in flight.)
//   - A bad record anywhere else (bit rot; or a bad frame with valid ones
//     after it) is corruption. Open does not fail: it keeps a copy of the
//     damaged file as <segment>.corrupt, cuts the segment before the bad
//     record and goes on with the next segments. The bad record and the
//     valid ones found after it in that segment are lost (Stats.Corrupt,
//     an Error log). A segment whose header is damaged is renamed to
//     <segment>.corrupt whole. A damaged last record of the newest
//     segment cannot be told from a torn write and is cut off as torn.
//   - Ack is durable when it returns: the state file is replaced
//     atomically (write, fsync, rename, directory fsync) before the
//     acknowledged segments are deleted. Delivery is at least once: after
//     a crash between the database write and Ack, or with a damaged state
//     file (logged, then ignored), records are handed out again. The
//     database writes are idempotent, so that costs nothing.
//   - The segment files never exceed MaxBytes after an Append: it drops
//     the oldest whole segments first (Stats.Dropped, an Error log). If
//     the directory already holds more at Open (MaxBytes was lowered), the
//     next Append brings it back under.
//
// # Imports
//
// The standard library only (flock comes from syscall, so the package
// builds on Unix); golang.org/x/sys would be acceptable. Nothing else.
package spool
