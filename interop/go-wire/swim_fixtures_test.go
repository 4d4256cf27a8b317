// The memberlist wire fixtures: every message kind swim's memberlist codec speaks, encoded by
// memberlist 0.2.2's own code (its message structs, its encode helper, its compound builder
// and the CRC header exactly as rawSendMsgPacket builds it), printed one "name hex" a line.
//
// This file belongs to package memberlist, so it is compiled inside a copy of memberlist's
// sources (without memberlist's own tests); interop/go-wire/fixtures.sh does that and writes
// swim-core/tests/golden/memberlist.txt, and swim-tokio's tests/go_interop.rs runs it again
// and compares, so the committed bytes are proved by the Go code whenever Go is installed.
package memberlist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/codec"
)

func swimEncode(t *testing.T, msgType messageType, in interface{}) []byte {
	buf, err := encode(msgType, in)
	if err != nil {
		t.Fatalf("encode %d: %v", msgType, err)
	}
	return buf.Bytes()
}

// The header rawSendMsgPacket puts in front of a message for a protocol-5 recipient.
func swimCrc(msg []byte) []byte {
	header := make([]byte, 5, 5+len(msg))
	header[0] = byte(hasCrcMsg)
	binary.BigEndian.PutUint32(header[1:], crc32.ChecksumIEEE(msg))
	return append(header, msg...)
}

// A push-pull as sendLocalState writes it before compression and encryption.
func swimPushPull(t *testing.T, join bool, nodes []pushNodeState, user []byte) []byte {
	buf := bytes.NewBuffer(nil)
	buf.WriteByte(byte(pushPullMsg))
	enc := codec.NewEncoder(buf, &codec.MsgpackHandle{})
	header := pushPullHeader{Nodes: len(nodes), UserStateLen: len(user), Join: join}
	if err := enc.Encode(&header); err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		if err := enc.Encode(&nodes[i]); err != nil {
			t.Fatal(err)
		}
	}
	if user != nil {
		buf.Write(user)
	}
	return buf.Bytes()
}

// A user message as a stream (SendReliable) carries it: the type, a header, the raw bytes.
func swimUserStream(t *testing.T, msg []byte) []byte {
	buf := bytes.NewBuffer(nil)
	buf.WriteByte(byte(userMsg))
	enc := codec.NewEncoder(buf, &codec.MsgpackHandle{})
	if err := enc.Encode(&userMsgHeader{UserMsgLen: len(msg)}); err != nil {
		t.Fatal(err)
	}
	buf.Write(msg)
	return buf.Bytes()
}

func TestSwimFixtures(t *testing.T) {
	v4 := []byte(net.ParseIP("127.0.0.1").To4())
	v6 := []byte(net.ParseIP("fd00::1"))
	vsn := []uint8{1, 5, 2, 0, 0, 0}
	long := strings.Repeat("n", 40)
	meta300 := bytes.Repeat([]byte{0xab}, 300)

	pingB := swimEncode(t, pingMsg, &ping{SeqNo: 1, Node: "b"})
	aliveB := swimEncode(t, aliveMsg, &alive{Incarnation: 1, Node: "a", Addr: v4, Port: 7946, Vsn: vsn})
	fixtures := []struct {
		name  string
		bytes []byte
	}{
		{"ping", pingB},
		{"ping-source", swimEncode(t, pingMsg, &ping{SeqNo: 200, Node: "b", SourceAddr: v4, SourcePort: 7946, SourceNode: "a"})},
		{"ping-v6-long-name", swimEncode(t, pingMsg, &ping{SeqNo: 70000, Node: long, SourceAddr: v6, SourcePort: 65535, SourceNode: "a"})},
		{"indirect-ping", swimEncode(t, indirectPingMsg, &indirectPingReq{SeqNo: 2, Target: v4, Port: 7947, Node: "c", Nack: true, SourceAddr: v4, SourcePort: 7946, SourceNode: "a"})},
		{"indirect-ping-v1", swimEncode(t, indirectPingMsg, &indirectPingReq{SeqNo: 3, Target: v4, Port: 7947, Node: "c"})},
		{"ack", swimEncode(t, ackRespMsg, &ackResp{SeqNo: 1})},
		{"ack-payload", swimEncode(t, ackRespMsg, &ackResp{SeqNo: 4294967295, Payload: []byte("rtt")})},
		{"nack", swimEncode(t, nackRespMsg, &nackResp{SeqNo: 128})},
		{"err", swimEncode(t, errMsg, &errResp{Error: "no such member"})},
		{"suspect", swimEncode(t, suspectMsg, &suspect{Incarnation: 5, Node: "b", From: "a"})},
		{"alive", aliveB},
		{"alive-meta", swimEncode(t, aliveMsg, &alive{Incarnation: 65536, Node: "a", Addr: v6, Port: 7946, Meta: []byte("role=db"), Vsn: vsn})},
		{"alive-meta-300", swimEncode(t, aliveMsg, &alive{Incarnation: 255, Node: long, Addr: v4, Port: 1, Meta: meta300, Vsn: []uint8{1, 5, 5, 2, 4, 3}})},

		{"dead", swimEncode(t, deadMsg, &dead{Incarnation: 7, Node: "b", From: "b"})},
		{"user", append([]byte{byte(userMsg)}, []byte("hello")...)},
		{"user-stream", swimUserStream(t, []byte("hello"))},
		{"compound", makeCompoundMessage([][]byte{pingB, aliveB}).Bytes()},
		{"crc-ping", swimCrc(pingB)},
		{"crc-compound", swimCrc(makeCompoundMessage([][]byte{pingB, aliveB}).Bytes())},
		{"push-pull-empty", swimPushPull(t, false, nil, nil)},
		{"push-pull-join", swimPushPull(t, true, []pushNodeState{
			{Name: "a", Addr: v4, Port: 7946, Incarnation: 1, State: StateAlive, Vsn: vsn},
			{Name: "b", Addr: v6, Port: 7947, Meta: []byte("m"), Incarnation: 300, State: StateSuspect, Vsn: vsn},
			{Name: "c", Addr: v4, Port: 7948, Incarnation: 2, State: StateDead, Vsn: vsn},
			{Name: "d", Addr: v4, Port: 7949, Incarnation: 3, State: StateLeft, Vsn: vsn},
		}, []byte("state"))},
	}
	// Compressed as memberlist compresses a stream or a packet (compressPayload: LZW, LSB
	// first, 8-bit literals, in a compress struct).
	for _, name := range []string{"push-pull-join", "alive-meta-300"} {
		for _, f := range fixtures {
			if f.name == name {
				buf, err := compressPayload(f.bytes)
				if err != nil {
					t.Fatal(err)
				}
				fixtures = append(fixtures, struct {
					name  string
					bytes []byte
				}{"compress-" + name, buf.Bytes()})
			}
		}
	}
	// Large enough that the LZW codes grow past 9 bits and the table fills and is cleared.
	var many []pushNodeState
	for i := 0; i < 500; i++ {
		many = append(many, pushNodeState{Name: fmt.Sprintf("node-%03d", i), Addr: []byte{10, 0, byte(i / 250), byte(i % 250)},
			Port: uint16(7000 + i), Meta: []byte(fmt.Sprintf("zone=%d;rack=%d", i%7, i%13)), Incarnation: uint32(i * i),
			State: NodeStateType(i % 4), Vsn: vsn})
	}
	big, err := compressPayload(swimPushPull(t, false, many, bytes.Repeat([]byte("app"), 100)))
	if err != nil {
		t.Fatal(err)
	}
	fixtures = append(fixtures, struct {
		name  string
		bytes []byte
	}{"compress-push-pull-500", big.Bytes()})
	for _, f := range fixtures {
		fmt.Printf("%s %x\n", f.name, f.bytes)
	}
}
