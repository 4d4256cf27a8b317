// go-peer: one hashicorp/memberlist member per process, driven by a line protocol on stdin and
// reporting on stdout, so that swim's tests can put the reference implementation beside swim
// members on real sockets.
//
// Build (Debian 12: apt-get install golang-go golang-github-hashicorp-memberlist-dev, which is
// memberlist 0.2.2):
//
//	cd interop/go-peer && GOPATH=/usr/share/gocode GO111MODULE=off go build -o go-peer .
//
// Flags: -name, -bind (address), -port (0: any free port), -config lan|local|wan, -protocol (memberlist protocol
// version, 1..5; 0 keeps the preset's), -key (hex: 16, 24 or 32 bytes), -seeds (comma-separated
// host:port, joined at start), -compress=false (turns off the LZW compression every preset has),
// -retransmit-mult (0 keeps the preset's), -suspicion-mult (0 keeps the preset's), -label (built
// with -tags memberlist_label against memberlist 0.3.1 or later; see label_on.go).
//
// Commands (one a line on stdin; answers and events one a line on stdout; <hex> is lowercase
// or uppercase hex, possibly empty):
//
//	join <host:port>[,<host:port>...]   -> "joined <n>" or "error join <reason>"
//	leave                               -> "left" (graceful leave, then shutdown)
//	meta <hex>                          -> "meta ok" (sets the metadata, then UpdateNode)
//	send <name> <hex>                   -> "sent" (best effort, UDP)
//	send-reliable <name> <hex>          -> "sent"  (over TCP)
//	broadcast <hex>                     -> "queued" (a user broadcast, piggybacked)
//	state <hex>                         -> "state ok" (what LocalState returns from now on)
//	key-add <hex> / key-use <hex> / key-remove <hex>
//	                                    -> "key ok" (memberlist's Keyring; needs -key)
//	members                             -> "members <name>@<addr>:<port>[,...]" (alive ones,
//	                                       sorted by name)
//	quit                                -> exits without leaving (like a crash)
//
// Events (printed as they happen):
//
//	ready <addr>:<port>                 (once it listens; the member's own join event
//	                                     comes just before it)
//	join <name> <addr>:<port> <meta hex>
//	update <name> <addr>:<port> <meta hex>
//	leave <name> <addr>:<port>
//	user <hex>                          (a user message or broadcast delivered by NotifyMsg)
//	merge <join true|false> <hex>       (MergeRemoteState's buffer)
//
// Every line is flushed as it is written. Errors in a command print "error <cmd> <reason>";
// they never end the process.
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

var out = struct {
	sync.Mutex
	w *bufio.Writer
}{w: bufio.NewWriter(os.Stdout)}

func emit(format string, args ...interface{}) {
	// One event a line: errors such as multierror's span lines.
	line := strings.ReplaceAll(strings.TrimRight(fmt.Sprintf(format, args...), "\n"), "\n", " ")
	out.Lock()
	fmt.Fprintln(out.w, line)
	out.w.Flush()
	out.Unlock()
}

func addr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}

// peer is both the Delegate and the EventDelegate.
type peer struct {
	mu         sync.Mutex
	meta       []byte
	state      []byte
	broadcasts *memberlist.TransmitLimitedQueue
}

// set replaces the metadata or the local state under the lock the delegate reads them with.
func (p *peer) set(field *[]byte, b []byte) {
	p.mu.Lock()
	*field = b
	p.mu.Unlock()
}

func (p *peer) NodeMeta(limit int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.meta) > limit {
		return p.meta[:limit]
	}
	return p.meta
}
func (p *peer) NotifyMsg(b []byte) { emit("user %x", b) }
func (p *peer) GetBroadcasts(overhead, limit int) [][]byte {
	return p.broadcasts.GetBroadcasts(overhead, limit)
}
func (p *peer) LocalState(join bool) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}
func (p *peer) MergeRemoteState(buf []byte, join bool) { emit("merge %t %x", join, buf) }

func (p *peer) NotifyJoin(n *memberlist.Node)   { emit("join %s %s %x", n.Name, addr(n), n.Meta) }
func (p *peer) NotifyUpdate(n *memberlist.Node) { emit("update %s %s %x", n.Name, addr(n), n.Meta) }
func (p *peer) NotifyLeave(n *memberlist.Node)  { emit("leave %s %s", n.Name, addr(n)) }

func main() {
	name := flag.String("name", "", "member name (required)")
	bind := flag.String("bind", "127.0.0.1", "bind and advertise address")
	port := flag.Int("port", 0, "bind and advertise port, UDP and TCP (0: any free port, printed by \"ready\")")
	preset := flag.String("config", "local", "lan|local|wan")
	protocol := flag.Int("protocol", 0, "memberlist protocol version (0: the preset's)")
	key := flag.String("key", "", "encryption key, hex (16, 24 or 32 bytes)")
	seeds := flag.String("seeds", "", "comma-separated host:port to join at start")
	compress := flag.Bool("compress", true, "compress push-pull streams and large packets (LZW), as every preset does")
	retransmitMult := flag.Int("retransmit-mult", 0, "RetransmitMult (0: the preset's)")
	suspicionMult := flag.Int("suspicion-mult", 0, "SuspicionMult (0: the preset's)")
	label := flag.String("label", "", "Label (memberlist 0.3.1 and later, built with -tags memberlist_label)")
	flag.Parse()
	if *name == "" {
		log.Fatal("-name is required")
	}

	var c *memberlist.Config
	switch *preset {
	case "lan":
		c = memberlist.DefaultLANConfig()
	case "local":
		c = memberlist.DefaultLocalConfig()
	case "wan":
		c = memberlist.DefaultWANConfig()
	default:
		log.Fatalf("unknown -config %q", *preset)
	}
	c.Name = *name
	c.BindAddr = *bind
	c.BindPort = *port
	c.AdvertiseAddr = *bind
	c.AdvertisePort = *port
	c.EnableCompression = *compress
	if *retransmitMult != 0 {
		c.RetransmitMult = *retransmitMult
	}
	if *suspicionMult != 0 {
		c.SuspicionMult = *suspicionMult
	}
	setLabel(c, *label)
	if *protocol != 0 {
		c.ProtocolVersion = uint8(*protocol)
	}
	if *key != "" {
		k, err := hex.DecodeString(*key)
		if err != nil {
			log.Fatalf("-key: %v", err)
		}
		c.SecretKey = k
	}
	// memberlist logs to stderr; the tests read stdout only.
	c.LogOutput = os.Stderr
	if os.Getenv("GO_PEER_QUIET") != "" {
		c.LogOutput = ioutil.Discard
	}
	p := &peer{}
	c.Delegate = p
	c.Events = p
	list, err := memberlist.Create(c)
	if err != nil {
		log.Fatalf("create: %v", err)
	}
	p.broadcasts = &memberlist.TransmitLimitedQueue{NumNodes: list.NumMembers, RetransmitMult: c.RetransmitMult}
	emit("ready %s", addr(list.LocalNode()))
	if *seeds != "" {
		join(list, *seeds)
	}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		cmd, args := fields[0], fields[1:]
		arg := func(i int) string {
			if i < len(args) {
				return args[i]
			}
			return ""
		}
		bytes := func(i int) ([]byte, bool) {
			b, err := hex.DecodeString(arg(i))
			if err != nil {
				emit("error %s bad hex: %v", cmd, err)
				return nil, false
			}
			return b, true
		}
		switch cmd {
		case "join":
			join(list, arg(0))
		case "leave":
			if err := list.Leave(5 * time.Second); err != nil {
				emit("error leave %v", err)
			}
			list.Shutdown()
			emit("left")
		case "meta":
			if b, ok := bytes(0); ok {
				p.set(&p.meta, b)
				if err := list.UpdateNode(5 * time.Second); err != nil {
					emit("error meta %v", err)
				} else {
					emit("meta ok")
				}
			}
		case "send", "send-reliable":
			b, ok := bytes(1)
			if !ok {
				continue
			}
			var to *memberlist.Node
			for _, n := range list.Members() {
				if n.Name == arg(0) {
					to = n
				}
			}
			if to == nil {
				emit("error %s no member %q", cmd, arg(0))
				continue
			}
			if cmd == "send" {
				err = list.SendBestEffort(to, b)
			} else {
				err = list.SendReliable(to, b)
			}
			if err != nil {
				emit("error %s %v", cmd, err)
			} else {
				emit("sent")
			}
		case "broadcast":
			if b, ok := bytes(0); ok {
				p.broadcasts.QueueBroadcast(broadcast(b))
				emit("queued")
			}
		case "key-add", "key-use", "key-remove":
			k, ok := bytes(0)
			if !ok {
				continue
			}
			if c.Keyring == nil {
				emit("error %s no keyring: start with -key", cmd)
				continue
			}
			var err error
			switch cmd {
			case "key-add":
				err = c.Keyring.AddKey(k)
			case "key-use":
				err = c.Keyring.UseKey(k)
			default:
				err = c.Keyring.RemoveKey(k)
			}
			if err != nil {
				emit("error %s %v", cmd, err)
				continue
			}
			emit("key ok")
		case "state":
			if b, ok := bytes(0); ok {
				p.set(&p.state, b)
				emit("state ok")
			}
		case "members":
			var names []string
			for _, n := range list.Members() {
				names = append(names, n.Name+"@"+addr(n))
			}
			sort.Strings(names)
			emit("members %s", strings.Join(names, ","))
		case "quit":
			os.Exit(0)
		default:
			emit("error %s unknown command", cmd)
		}
	}
}

func join(list *memberlist.Memberlist, seeds string) {
	n, err := list.Join(strings.Split(seeds, ","))
	if err != nil {
		emit("error join %v", err)
	} else {
		emit("joined %d", n)
	}
}
