// Package journal is the gateway's order journal: an append-only file in
// which every accepted order event is made durable before the client is
// acknowledged, and from which a restarted gateway rebuilds its open
// orders, positions and cash (together with the FIX store) before it
// reconciles open orders with the upstream.
//
//	client order ─> risk checks ─> Journal.Append ──(durable)──> ack, router ─> FIX
//	restart: Open ─> Replay ─> rebuild state ─> reconcile ─> Append ...
//
// # Record format
//
// A journal file is a 16-byte header followed by frames, all integers
// big-endian:
//
//	header:  "SGWJRNL1" | u16 version (3) | u48 created, Unix milliseconds
//	frame:   u32 length of payload | u32 CRC-32C (Castagnoli) of payload | payload
//	payload: u8 record type | u64 sequence | i64 time, Unix nanoseconds | u32 batch index | body
//
// The sequence number is 1 for the first record and increases by one per
// record, continuing across reopens. The batch index is how many records
// come before this one in its batch (the records committed with one write
// and one fsync, below): 0 for a batch's first record, then 1, 2 ... (at
// 2^32-1 it stays there). A record's sequence number less its batch index
// is the sequence number of its batch's first record, so every frame names
// its batch (see Torn batches). The record type and body belong to the
// caller (the order manager's records, orders/codec.go); the journal
// stores the bytes. A body may be at most Config.MaxRecord bytes (64 KiB
// by default, MaxRecordLimit = 16 MiB at most), so a payload length
// outside 21 .. 21+MaxRecordLimit is damage.
//
// Files of format version 1 (plain) and 2 (sealed), which earlier
// versions wrote, have no batch index (payload: type | sequence | time |
// body); they are still read, and appended to in their own format. New
// files get version 3 (plain) or 4 (sealed). An earlier version refuses
// a file of version 3 or 4 (ErrVersion).
//
// # Encryption at rest (SM4-GCM)
//
// With Config.Keys (an atrest.KeyRing) the journal is sealed: format
// version 4. The header continues after its 16 bytes with atrest's sealed
// header (74 bytes: cipher, key id, random salt, key check value, tag), so
// a sealed file's frames start at offset 90:
//
//	header:  "SGWJRNL1" | u16 version (4) | u48 created | sealed header (74)
//	frame:   u32 length of payload | u32 CRC-32C of payload | payload
//	payload: u8 record type | u64 sequence | i64 time | u32 epoch | u32 batch index | SM4-GCM(body) | tag (16)
//
// (Version 2, an earlier version's sealed file, has no batch index.) The
// file's SM4 key derives from the master key the header names and the
// header's salt (HKDF-SM3), so no two files share a key. Each record is
// sealed under the nonce (epoch, sequence), with its payload header
// (type, sequence, time, epoch, batch index) as additional authenticated
// data: none can be changed, and a record cannot be moved, copied or
// spliced in from another file. The epoch is drawn at random each time
// Open opens the file, so a sequence number written again after a torn
// tail was cut (or a failed batch rolled back) is sealed under a new
// nonce. The header's tag covers the header, creation time included.
//
// Appenders frame records in plaintext under the journal's lock. While the
// writer waits for an fsync, a presealer goroutine seals the records that
// wait for the next batch (seal.go); the writer seals what is left before
// the write. The cipher never runs under the journal's lock.
//
// The checksum still tells a torn write from a whole one: a bad checksum
// is a torn tail (truncated) or corruption (a *CorruptError) by the same
// rule as in a plain file (Torn batches), and a frame the rule counts as
// part of the torn batch must authenticate too. A record whose checksum
// verifies but whose tag does not, or that is out of sequence (or out of
// its batch), was changed on purpose: Open and Replay return a
// *TamperedError (ErrTampered) naming the file and sequence number,
// wherever the record is, and never truncate it. A header naming a key the
// ring lacks or holds a different key for returns ErrKey naming the key
// id. A file keeps the key it was created under: rotation seals new files
// under the current key, and old files open as long as their key stays in
// the ring. Open refuses a plain file when Keys is set (ErrPlain) and a
// sealed one when it is not (ErrKey); see docs/SECURITY.md.
//
// # Durability
//
// Append returns only after its record has been written and fsynced.
// Appends are group-committed: one writer goroutine takes every record
// pending, writes them with one write call, fsyncs once and then releases
// all their callers. With Config.CommitInterval zero it commits as soon as
// the previous fsync returns, so the batch grows with the load and the
// fsync rate stays at what the disk sustains; a positive CommitInterval
// waits up to that long for more records.
//
// A failed write or fsync is sticky: the failed batch, every batch behind
// it and every later append get an error wrapping ErrFailed. A failed
// fsync is never retried: the kernel may have dropped the data, and a retry
// could report success falsely. The gateway must then stop accepting
// orders. The failed batch is rolled back: the file is cut back to the
// last durable record and the cut fsynced, so a record whose append failed
// is not in the file after a restart, and the gateway may tell its client
// it failed. If the rollback fails too, the failed batch's error also
// wraps ErrRollback: its records may reappear, and the operator must check
// them. The batches behind it and later appends were never written: their
// error does not wrap ErrRollback.
//
// Open checks every record. A crash during a write leaves a torn tail:
// the last batch partly written. Open truncates it at its first damaged
// record (those records were never acknowledged, since their fsync never
// returned) and reports it in Recovered. Damage that a later batch
// follows is not what an interrupted append leaves: Open refuses the file
// with a *CorruptError (ErrCorrupt) naming the offset, never skipping
// records silently, and the operator decides.
//
// # Torn batches
//
// A batch is written with one write call and then fsynced, and the next
// batch is written only once that fsync has returned. A crash before the
// fsync returns may leave any subset of the batch's pages on disk, in any
// order (the kernel writes dirty pages back as it likes, and the file's
// size may or may not cover them): a damaged record followed by valid
// records of the same batch. So Open, finding a record damaged after
// record s (the last good one), searches the rest of the file for valid
// frames. A frame whose batch began at s+1 or before (its sequence number
// less its batch index is at most s+1) is of the batch that holds record
// s+1, the one torn. A valid frame of any later batch proves that the
// fsync of the batch holding record s+1 returned (the later batch was
// written after it), so the damage is corruption of acknowledged records:
// a *CorruptError. If none
// is found the damage is a torn tail and is cut, together with the
// torn batch's valid records after it (never acknowledged either). A
// frame whose batch index saturated cannot be placed and counts as a
// later batch's. The cost: damage on disk to the last batch, which was
// acknowledged, looks the same as a torn write of it and is cut too,
// and reported, as damage to the very last record always was.
//
// Why an index in every frame: a flag on a batch's first or last frame
// would be lost with that frame's page, and the frames after the damage
// could then belong to the torn batch or to a later one alike. The index
// lets every frame name its batch's first record in 4 bytes, with no new
// state: the writer numbers the records of the batch it builds. The file
// header's version says whether frames carry it, so one file never mixes
// frame formats and an earlier version refuses the new files instead of
// misreading them.
//
// Files of format 1 and 2 have no batch index: there any valid record
// after the damage makes it a *CorruptError, so a torn batch spanning
// pages can leave such a file refused although every acknowledged record
// is intact; the operator then cuts it at the offset named.
//
// A new file's entry is made durable before Open returns: the file is
// fsynced into its directory, and each directory Open creates on the way
// to it into its parent.
//
// Config.NoSync turns fsync off for tests and benchmarks. It is unsafe in
// production: acknowledged records can be lost.
//
// # Concurrency
//
// Open starts the writer goroutine; Close stops it after committing every
// append it accepted. Append, AppendAsync, LastSeq and Recovered may be
// called from any goroutine. Append blocks its caller until its batch is
// durable. AppendAsync never blocks and never calls back on its caller's
// goroutine (a record refused at once is its returned error): its callback
// runs on the writer goroutine once the record is durable or its commit
// failed, in sequence order, and must be quick (the next batch waits for
// it) and must not call Append or Close.
// Config.OnSync also runs on the writer goroutine. Replay reads only
// records already durable, so it may run alongside appends, but it must
// not run concurrently with Close. The file is locked (flock) while open,
// so a second Journal on the same file gets ErrLocked.
//
// The journal does not bound how much is pending: blocking callers bound it
// by their number, and callers of AppendAsync must bound their own
// in-flight records.
package journal
