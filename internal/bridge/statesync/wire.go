package statesync

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Message types on the sync stream. Each message is a type byte, a 4-byte
// big-endian length and the payload (JSON, or for a chunk the 32-byte hash
// followed by the data).
const (
	msgHello  = 'H' // client → host: helloMsg
	msgNeed   = 'N' // host → client: needMsg
	msgChunk  = 'C' // client → host: hash ‖ data
	msgDone   = 'D' // client → host: all needed chunks sent
	msgResult = 'R' // host → client: Result
	msgError  = 'E' // host → client: errorMsg
)

// maxMessage bounds what a peer may make the other allocate.
const maxMessage = ChunkSize + 64<<20

// ProtocolVersion of the sync stream.
const ProtocolVersion = 1

type helloMsg struct {
	Protocol int       `json:"protocol"`
	Base     int       `json:"base"` // the host version this state derives from (0: none)
	Manifest *Manifest `json:"manifest"`
}

type needMsg struct {
	Latest  int      `json:"latest"`
	Missing []string `json:"missing"`
}

type errorMsg struct {
	Message string `json:"message"`
}

// Result of one sync, as both ends report it.
type Result struct {
	Version   int    `json:"version"`             // the version published (or current when unchanged)
	Unchanged bool   `json:"unchanged,omitempty"` // the host already had this state as its latest
	Conflict  string `json:"conflict,omitempty"`  // where the host kept a conflicting sync
	Latest    int    `json:"latest"`              // the host's latest version afterwards
	Sent      int    `json:"chunks_sent"`
	SentBytes int64  `json:"bytes_sent"`
	Files     int    `json:"files"`
	Bytes     int64  `json:"bytes"`
}

func writeMsg(w io.Writer, typ byte, payload []byte) error {
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(h[:]); err != nil || len(payload) == 0 {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func writeJSON(w io.Writer, typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeMsg(w, typ, b)
}

func readMsg(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxMessage {
		return 0, nil, fmt.Errorf("sync message of %d bytes is over the limit", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return h[0], b, nil
}
