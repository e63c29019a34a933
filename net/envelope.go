package net

// Client-protocol frame bodies. ID is a connection-local correlation id
// (requests) or stream id (tails), chosen by the client.

type reqEnvelope struct {
	ID  uint64   `codec:"id"`
	Req *Request `codec:"r"`
}

type respEnvelope struct {
	ID   uint64    `codec:"id"`
	Resp *Response `codec:"r"`
}

type cancelEnvelope struct {
	ID uint64 `codec:"id"`
}

type tailOpenEnvelope struct {
	ID  uint64      `codec:"id"`
	Req TailRequest `codec:"r"`
}

type tailDataEnvelope struct {
	ID      uint64      `codec:"id"`
	Entries []TailEntry `codec:"e"`
}

type tailCreditEnvelope struct {
	ID uint64 `codec:"id"`
	N  uint64 `codec:"n"`
}

type tailEndEnvelope struct {
	ID    uint64  `codec:"id"`
	Code  ErrCode `codec:"c,omitempty"`
	Msg   string  `codec:"m,omitempty"`
	First uint64  `codec:"f,omitempty"`
}
