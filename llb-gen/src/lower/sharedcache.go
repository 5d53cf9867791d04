// goapp-cache keeps Go's build cache in a local directory and in a shared HTTP store, for
// `go` commands that run it as their GOCACHEPROG (Go 1.24 or newer). goapp compiles it on
// the builder from this file, which uses the standard library only.
//
//	goapp-cache -dir DIR [-url URL] [-token FILE] [-read-only] [-index NAME]
//
// Go sends one JSON request a line on stdin ("get", "put", "close"; a put's body follows as
// a base64 JSON string) and reads one JSON response per request on stdout, in any order.
// Every object is a file in DIR (what the response's DiskPath names):
//
//	DIR/o/<output id>   the output, whose SHA-256 is its output id
//	DIR/a/<action id>   "<output id> <size> [<store mark>]": what an action made
//
// With -url the same two kinds of object are kept in the store at URL/v1/o/<output id> and
// URL/v1/a/<action id> (there without the mark): a lookup that misses DIR asks the store
// (and keeps what it gets in DIR), and what Go puts is uploaded (HEAD first: an output
// already there is not sent again), unless -read-only. The mark, a hash of URL, says that
// the store has the entry; a lookup that DIR answers for an entry without this store's mark
// (made by a read-only build, with another store, or while the store was off) uploads it
// in the background, so that the store gets what this builder has.
//
// With -index, the store also keeps URL/v1/i/NAME: the entries ("<action id> <output id>
// <size>" lines) that a command of that name used, uploaded when it closes unless they are
// close to what the index listed. A command reads it first and fetches those outputs
// ahead, several at once, while Go is still working out what it needs: a lookup it lists
// costs no request of its own, and the outputs arrive side by side rather than one
// dependency after another.
//
// Every request to the store carries `Authorization: Bearer <token>` when the file -token
// names exists. The token is read, never written anywhere.
//
// The store never fails a build: an answer other than 200 or 404, a connection that fails
// or an output whose hash is wrong is a miss (the package is compiled), counted and shown.
// After a refusal (401, 403) or five failures in a row the store is not asked again by this
// process. When Go closes the program it waits for the uploads, prints one line of figures
// to stderr and removes local objects unused for five days (at most once a day).
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type request struct {
	ID       int64
	Command  string
	ActionID []byte `json:",omitempty"`
	OutputID []byte `json:",omitempty"`
	BodySize int64  `json:",omitempty"`
}

type response struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

// unused is how long a local object may go unread before it is removed.
const unused = 5 * 24 * time.Hour

type cache struct {
	dir string
	url string
	// mark is what a local entry ends with once the store at url has it.
	mark     string
	token    string
	readOnly bool
	client   *http.Client

	// At most this many requests to the store at once.
	slots   chan struct{}
	uploads sync.WaitGroup

	// The store is asked no more once off is set.
	off          atomic.Bool
	failsInARow  atomic.Int32
	warned       atomic.Int32
	lookups      atomic.Int64
	local        atomic.Int64
	shared       atomic.Int64
	missed       atomic.Int64
	stored       atomic.Int64
	bytesUp      atomic.Int64
	bytesDown    atomic.Int64
	storeErrors  atomic.Int64
	alreadyThere atomic.Int64

	// The index (-index): its name; closed once ahead is set; what it listed, each fetched
	// once (by a worker or by the first lookup that needs it); the entries this command
	// used, in the order it first used them.
	index        string
	indexReady   chan struct{}
	ahead        map[string]*aheadEntry
	listed       map[string]bool
	closing      atomic.Bool
	fetchedAhead atomic.Int64
	usedMu       sync.Mutex
	used         []string
	usedSet      map[string]bool
}

// aheadEntry is an entry of the index: the output to fetch; once brought, whether it is
// here, where, and whether the entry came from the store (else from the local directory).
type aheadEntry struct {
	action, output string
	size           int64
	once           sync.Once
	ok, fromStore  bool
	path           string
	time           time.Time
}

func main() {
	dir := flag.String("dir", "", "the local directory of the cache")
	url := flag.String("url", "", "the shared store's base URL (http or https)")
	tokenFile := flag.String("token", "", "a file holding the store's bearer token")
	readOnly := flag.Bool("read-only", false, "look objects up in the store, never upload")
	index := flag.String("index", "", "the name of the store's list of the entries this command used last time")
	flag.Parse()
	if *dir == "" || !filepath.IsAbs(*dir) {
		fatal("-dir must be an absolute directory")
	}
	c := &cache{
		dir:        *dir,
		url:        strings.TrimRight(*url, "/"),
		readOnly:   *readOnly,
		client:     &http.Client{Timeout: 2 * time.Minute},
		slots:      make(chan struct{}, 16),
		usedSet:    map[string]bool{},
		indexReady: make(chan struct{}),
	}
	if *index != "" && !validIndex(*index) {
		fatal("-index must be letters, digits, '.', '_', '-' and '/' between names")
	}
	if c.url != "" {
		sum := sha256.Sum256([]byte(c.url))
		c.mark = hex.EncodeToString(sum[:8])
	}
	for _, sub := range []string{"a", "o", "tmp"} {
		if err := os.MkdirAll(filepath.Join(c.dir, sub), 0o755); err != nil {
			fatal(err.Error())
		}
	}
	if c.url != "" && *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		switch {
		case err == nil:
			c.token = strings.TrimSpace(string(b))
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(os.Stderr, "goapp-cache: no token at %s (its secret was not given): the store is asked without one\n", *tokenFile)
		default:
			fatal(err.Error())
		}
	}
	if c.url != "" && *index != "" {
		c.index = *index
		go c.loadIndex()
	} else {
		close(c.indexReady)
	}
	c.serve(os.Stdin, os.Stdout)
}

func validIndex(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return false
			}
		}
	}
	return true
}

// loadIndex reads the index and fetches what it lists, a few outputs at once.
func (c *cache) loadIndex() {
	ahead := map[string]*aheadEntry{}
	var order []*aheadEntry
	if data, ok := c.fetch("i/"+c.index, 64<<20); ok {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || len(f[0]) != 64 || ahead[f[0]] != nil {
				continue
			}
			output, size, _, ok := parseEntry([]byte(f[1] + " " + f[2]))
			if _, err := hex.DecodeString(f[0]); err != nil || !ok {
				continue
			}
			e := &aheadEntry{action: f[0], output: output, size: size}
			ahead[e.action] = e
			order = append(order, e)
		}
	}
	c.ahead = ahead
	c.listed = map[string]bool{}
	for _, e := range order {
		c.listed[entryLine(e.action, e.output, e.size)] = true
	}
	close(c.indexReady)
	next := make(chan *aheadEntry)
	for w := 0; w < 8; w++ {
		go func() {
			for e := range next {
				c.bring(e)
			}
		}()
	}
	for _, e := range order {
		if c.closing.Load() || c.off.Load() {
			break
		}
		next <- e
	}
	close(next)
}

// bring makes an entry of the index available in the local directory, once.
func (c *cache) bring(e *aheadEntry) {
	e.once.Do(func() {
		if c.closing.Load() {
			return
		}
		if l, ok := c.localEntry(e.action); ok {
			// What this builder has wins over the list.
			e.output, e.size, e.path, e.time, e.ok = l.output, l.size, l.path, l.time, true
			c.shareUnmarked(e.action, l)
			return
		}
		if c.off.Load() {
			return
		}
		path := filepath.Join(c.dir, "o", e.output)
		if info, err := os.Stat(path); err != nil || info.Size() != e.size {
			if !c.fetchOutput(e.output, e.size, path) {
				return
			}
			c.fetchedAhead.Add(1)
		}
		if err := c.write(filepath.Join(c.dir, "a", e.action), c.marked(entryOf(e.output, e.size))); err != nil {
			c.failed(err)
			return
		}
		e.path, e.time, e.ok, e.fromStore = path, time.Now(), true, true
	})
}

// use records an entry this command used, for the index.
func (c *cache) use(action, output string, size int64) {
	if c.index == "" {
		return
	}
	line := entryLine(action, output, size)
	c.usedMu.Lock()
	defer c.usedMu.Unlock()
	if !c.usedSet[line] {
		c.usedSet[line] = true
		c.used = append(c.used, line)
	}
}

func entryLine(action, output string, size int64) string {
	return fmt.Sprintf("%s %s %d", action, output, size)
}

// saveIndex uploads the entries this command used when the index listed too few of them
// (more than one in twenty is new) or too many others (one in four): after a one-line
// change, a few new entries are not worth a PUT; the next command fetches them itself.
func (c *cache) saveIndex() {
	if c.index == "" || !c.writing() || len(c.used) == 0 {
		return
	}
	c.usedMu.Lock()
	defer c.usedMu.Unlock()
	unlisted := 0
	for _, line := range c.used {
		if !c.listed[line] {
			unlisted++
		}
	}
	stale := len(c.listed) - (len(c.used) - unlisted)
	if len(c.listed) == 0 || unlisted*20 > len(c.used) || stale*4 > len(c.listed) {
		c.send("i/"+c.index, []byte(strings.Join(c.used, "\n")+"\n"))
	}
}

func fatal(msg string) {
	fmt.Fprintf(os.Stderr, "goapp-cache: %s\n", msg)
	os.Exit(2)
}

// serve answers the requests of `in` on `out` until "close" or the end of `in`.
func (c *cache) serve(in io.Reader, out io.Writer) {
	w := bufio.NewWriter(out)
	var mu sync.Mutex
	reply := func(r response) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(r)
		w.Write(append(b, '\n'))
		w.Flush()
	}
	reply(response{KnownCommands: []string{"get", "put", "close"}})
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<20))
	var pending sync.WaitGroup
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(os.Stderr, "goapp-cache: reading a request: %v\n", err)
			}
			break
		}
		var body []byte
		if req.Command == "put" && req.BodySize > 0 {
			if err := dec.Decode(&body); err != nil {
				fmt.Fprintf(os.Stderr, "goapp-cache: reading the body of request %d: %v\n", req.ID, err)
				break
			}
		}
		if req.Command == "close" {
			pending.Wait()
			c.close()
			reply(response{ID: req.ID})
			return
		}
		pending.Add(1)
		go func() {
			defer pending.Done()
			reply(c.handle(req, body))
		}()
	}
	pending.Wait()
	c.close()
}

func (c *cache) handle(req request, body []byte) response {
	switch req.Command {
	case "get":
		return c.get(req)
	case "put":
		return c.put(req, body)
	default:
		return response{ID: req.ID, Err: fmt.Sprintf("unknown command %q", req.Command)}
	}
}

func (c *cache) get(req request) response {
	c.lookups.Add(1)
	action := hex.EncodeToString(req.ActionID)
	r, where := c.lookUp(req.ID, action)
	switch where {
	case "local":
		c.local.Add(1)
	case "shared":
		c.shared.Add(1)
	default:
		c.missed.Add(1)
		return response{ID: req.ID, Miss: true}
	}
	c.use(action, hex.EncodeToString(r.OutputID), r.Size)
	return r
}

// lookUp answers a lookup from the index's entries, the local directory or the store.
func (c *cache) lookUp(id int64, action string) (response, string) {
	<-c.indexReady
	if e := c.ahead[action]; e != nil {
		c.bring(e)
		if e.ok {
			outputID, _ := hex.DecodeString(e.output)
			t := e.time
			r := response{ID: id, OutputID: outputID, Size: e.size, Time: &t, DiskPath: e.path}
			if e.fromStore {
				return r, "shared"
			}
			return r, "local"
		}
	}
	if r, ok := c.getLocal(id, action); ok {
		return r, "local"
	}
	if r, ok := c.getShared(id, action); ok {
		return r, "shared"
	}
	return response{}, ""
}

// local is an entry of the local directory whose output is there too.
type local struct {
	output, mark, path string
	size               int64
	// When the output was written (or last used, within the hour): what Go is told.
	time time.Time
}

// localEntry reads the action's entry in the local directory.
func (c *cache) localEntry(action string) (local, bool) {
	entry, err := os.ReadFile(filepath.Join(c.dir, "a", action))
	if err != nil {
		return local{}, false
	}
	output, size, mark, ok := parseEntry(entry)
	if !ok {
		return local{}, false
	}
	path := filepath.Join(c.dir, "o", output)
	info, err := os.Stat(path)
	if err != nil || info.Size() != size {
		return local{}, false
	}
	// Used now: keep it from being trimmed (the time is updated at most once an hour).
	if now := time.Now(); now.Sub(info.ModTime()) > time.Hour {
		os.Chtimes(path, now, now)
		os.Chtimes(filepath.Join(c.dir, "a", action), now, now)
	}
	return local{output: output, mark: mark, path: path, size: size, time: info.ModTime()}, true
}

// getLocal finds the action's entry and its output in the local directory.
func (c *cache) getLocal(id int64, action string) (response, bool) {
	l, ok := c.localEntry(action)
	if !ok {
		return response{}, false
	}
	c.shareUnmarked(action, l)
	outputID, _ := hex.DecodeString(l.output)
	return response{ID: id, OutputID: outputID, Size: l.size, Time: &l.time, DiskPath: l.path}, true
}

// shareUnmarked uploads, in the background, a local entry the store may lack.
func (c *cache) shareUnmarked(action string, l local) {
	if l.mark != c.mark && c.writing() {
		c.background(func() { c.share(action, l.output, l.size, l.path) })
	}
}

// getShared asks the store for the action's entry, then for its output unless the local
// directory has it, checks the output against its id and keeps both in the local directory.
func (c *cache) getShared(id int64, action string) (response, bool) {
	if c.url == "" || c.off.Load() {
		return response{}, false
	}
	entry, ok := c.fetch("a/"+action, 200)
	if !ok {
		return response{}, false
	}
	output, size, mark, ok := parseEntry(entry)
	if !ok || mark != "" {
		c.failed(fmt.Errorf("the entry of action %s is not `<output id> <size>`", action))
		return response{}, false
	}
	path := filepath.Join(c.dir, "o", output)
	if info, err := os.Stat(path); err != nil || info.Size() != size {
		if !c.fetchOutput(output, size, path) {
			return response{}, false
		}
	}
	if err := c.write(filepath.Join(c.dir, "a", action), c.marked(entry)); err != nil {
		c.failed(err)
		return response{}, false
	}
	outputID, _ := hex.DecodeString(output)
	t := time.Now()
	return response{ID: id, OutputID: outputID, Size: size, Time: &t, DiskPath: path}, true
}

func (c *cache) put(req request, body []byte) response {
	action := hex.EncodeToString(req.ActionID)
	output := hex.EncodeToString(req.OutputID)
	if int64(len(body)) != req.BodySize {
		return response{ID: req.ID, Err: fmt.Sprintf("the body has %d bytes, not %d", len(body), req.BodySize)}
	}
	path := filepath.Join(c.dir, "o", output)
	if info, err := os.Stat(path); err != nil || info.Size() != req.BodySize {
		if err := c.write(path, body); err != nil {
			return response{ID: req.ID, Err: err.Error()}
		}
	}
	entry := entryOf(output, req.BodySize)
	if err := c.write(filepath.Join(c.dir, "a", action), entry); err != nil {
		return response{ID: req.ID, Err: err.Error()}
	}
	c.use(action, output, req.BodySize)
	if c.writing() {
		c.background(func() {
			if c.upload(action, output, entry, body) {
				c.write(filepath.Join(c.dir, "a", action), c.marked(entry))
			}
		})
	}
	return response{ID: req.ID, DiskPath: path}
}

// writing says whether what this builder has goes to the store.
func (c *cache) writing() bool {
	return c.url != "" && !c.readOnly && !c.off.Load()
}

// background runs f beside the requests; close waits for it.
func (c *cache) background(f func()) {
	c.uploads.Add(1)
	go func() {
		defer c.uploads.Done()
		f()
	}()
}

// entryOf is an entry as the store keeps it: "<output id> <size>".
func entryOf(output string, size int64) []byte {
	return []byte(fmt.Sprintf("%s %d\n", output, size))
}

// marked is an entry "<output id> <size>" with this store's mark.
func (c *cache) marked(entry []byte) []byte {
	return []byte(strings.TrimSpace(string(entry)) + " " + c.mark + "\n")
}

// share makes sure the store has a local entry that lacks its mark, then marks it.
func (c *cache) share(action, output string, size int64, path string) {
	entry := entryOf(output, size)
	there, ok := c.has("a/" + action)
	if !ok {
		return
	}
	if there {
		c.alreadyThere.Add(1)
	} else {
		body, err := os.ReadFile(path)
		if err != nil || int64(len(body)) != size {
			return
		}
		if !c.upload(action, output, entry, body) {
			return
		}
	}
	c.write(filepath.Join(c.dir, "a", action), c.marked(entry))
}

// upload sends the output (unless the store has it) and then the action's entry, so that
// an entry in the store always has its output there. True once the store has both.
func (c *cache) upload(action, output string, entry, body []byte) bool {
	if c.off.Load() {
		return false
	}
	there, ok := c.has("o/" + output)
	if !ok {
		return false
	}
	if there {
		c.alreadyThere.Add(1)
	} else {
		if !c.send("o/"+output, body) {
			return false
		}
		c.bytesUp.Add(int64(len(body)))
	}
	if !c.send("a/"+action, entry) {
		return false
	}
	c.stored.Add(1)
	return true
}

// fetch GETs an object of the store: its bytes and true on 200; false on 404 or a failure
// (counted). `limit` bounds what is read.
func (c *cache) fetch(key string, limit int64) ([]byte, bool) {
	body, ok := c.open(key)
	if !ok {
		return nil, false
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		c.failed(err)
		return nil, false
	}
	c.succeeded()
	c.bytesDown.Add(int64(len(data)))
	return data, true
}

// open GETs an object of the store: its body on 200; false on 404 or a failure (counted).
func (c *cache) open(key string) (io.ReadCloser, bool) {
	resp, err := c.do("GET", key, nil)
	if err != nil {
		c.failed(err)
		return nil, false
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, true
	case http.StatusNotFound:
		resp.Body.Close()
		c.succeeded()
	default:
		resp.Body.Close()
		c.refused(resp)
	}
	return nil, false
}

// fetchOutput GETs an output of the store into path, streamed through a temporary file and
// checked against its size and id on the way; true once it is there.
func (c *cache) fetchOutput(output string, size int64, path string) bool {
	body, ok := c.open("o/" + output)
	if !ok {
		return false
	}
	defer body.Close()
	f, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "get-")
	if err != nil {
		c.failed(err)
		return false
	}
	defer os.Remove(f.Name())
	hash := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, hash), io.LimitReader(body, size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.failed(err)
		return false
	}
	c.succeeded()
	c.bytesDown.Add(n)
	if n != size || hex.EncodeToString(hash.Sum(nil)) != output {
		c.failed(fmt.Errorf("the output %s in the store is not what its id says: ignored", output))
		return false
	}
	if err := os.Rename(f.Name(), path); err != nil {
		c.failed(err)
		return false
	}
	return true
}

// has HEADs an object of the store: whether it is there, and whether the store answered.
func (c *cache) has(key string) (bool, bool) {
	resp, err := c.do("HEAD", key, nil)
	if err != nil {
		c.failed(err)
		return false, false
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		c.succeeded()
		return true, true
	case http.StatusNotFound:
		c.succeeded()
		return false, true
	default:
		c.refused(resp)
		return false, false
	}
}

// send PUTs an object into the store.
func (c *cache) send(key string, data []byte) bool {
	resp, err := c.do("PUT", key, data)
	if err != nil {
		c.failed(err)
		return false
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		c.succeeded()
		return true
	}
	c.refused(resp)
	return false
}

func (c *cache) do(method, key string, data []byte) (*http.Response, error) {
	c.slots <- struct{}{}
	defer func() { <-c.slots }()
	var body io.Reader
	if data != nil {
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.url+"/v1/"+key, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if data != nil {
		req.ContentLength = int64(len(data))
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	return c.client.Do(req)
}

func (c *cache) succeeded() { c.failsInARow.Store(0) }

// refused counts an answer other than 200 or 404; after 401 or 403 the store is asked no more.
func (c *cache) refused(resp *http.Response) {
	err := fmt.Errorf("%s %s: %s", resp.Request.Method, resp.Request.URL.Redacted(), resp.Status)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		c.storeErrors.Add(1)
		if c.off.CompareAndSwap(false, true) {
			fmt.Fprintf(os.Stderr, "goapp-cache: the store refused the request (%v): check the token's secret; the store is not used for the rest of this command\n", err)
		}
		return
	}
	c.failed(err)
}

// failed counts a failure and shows the first few; five in a row turn the store off.
func (c *cache) failed(err error) {
	c.storeErrors.Add(1)
	if c.warned.Add(1) <= 3 {
		fmt.Fprintf(os.Stderr, "goapp-cache: %v\n", err)
	}
	if c.failsInARow.Add(1) >= 5 && c.off.CompareAndSwap(false, true) {
		fmt.Fprintf(os.Stderr, "goapp-cache: five failures in a row: the store is not used for the rest of this command\n")
	}
}

// write puts data at path through a temporary file and a rename, so that a reader (another
// `go` command sharing the directory) never sees half a file.
func (c *cache) write(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "put-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (c *cache) close() {
	// Fetching ahead stops (what is under way ends on its own); the uploads are waited for.
	c.closing.Store(true)
	<-c.indexReady
	c.uploads.Wait()
	c.saveIndex()
	where := "no shared store"
	if c.url != "" {
		where = "store " + c.url
		if c.readOnly {
			where += ", read-only"
		}
		if c.off.Load() {
			where += ", turned off after errors"
		}
		if c.index != "" {
			where += fmt.Sprintf(", index %s: %d listed, %d fetched ahead", c.index, len(c.listed), c.fetchedAhead.Load())
		}
	}
	fmt.Fprintf(os.Stderr, "goapp-cache: %d lookups: %d on this builder, %d from the shared cache, %d missed (compiled); %d stored in the shared cache (%d already there); %s up, %s down; %d errors (%s)\n",
		c.lookups.Load(), c.local.Load(), c.shared.Load(), c.missed.Load(), c.stored.Load(), c.alreadyThere.Load(),
		size(c.bytesUp.Load()), size(c.bytesDown.Load()), c.storeErrors.Load(), where)
	c.trim()
}

// trim removes the local objects unused for [unused], at most once a day.
func (c *cache) trim() {
	mark := filepath.Join(c.dir, "trimmed")
	now := time.Now()
	if b, err := os.ReadFile(mark); err == nil {
		if last, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && now.Sub(time.Unix(last, 0)) < 24*time.Hour {
			return
		}
	}
	for _, sub := range []string{"a", "o", "tmp"} {
		entries, err := os.ReadDir(filepath.Join(c.dir, sub))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > unused {
				os.Remove(filepath.Join(c.dir, sub, e.Name()))
			}
		}
	}
	c.write(mark, []byte(strconv.FormatInt(now.Unix(), 10)))
}

// parseEntry reads "<output id> <size> [<store mark>]".
func parseEntry(b []byte) (string, int64, string, bool) {
	f := strings.Fields(string(b))
	if len(f) != 2 && len(f) != 3 {
		return "", 0, "", false
	}
	if _, err := hex.DecodeString(f[0]); err != nil || len(f[0]) == 0 {
		return "", 0, "", false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n < 0 {
		return "", 0, "", false
	}
	mark := ""
	if len(f) == 3 {
		mark = f[2]
	}
	return f[0], n, mark, true
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
