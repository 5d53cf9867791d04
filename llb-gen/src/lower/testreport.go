// goapp-test runs `go vet` and `go test -json` for `--target test`, shows the tests' output
// as `go test` would, writes the report (test.json, junit.xml, coverage.out) and ends with
// the failing tests, each with the file and line of its first failure, relative to the
// module. It exits with go test's status.
//
//	goapp-test -report DIR [-vet] [-tags LIST] [-timeout D] [-mod MODE] -- [test flags] PACKAGES...
package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string
	Test       string
	Elapsed    float64
	Output     string
}

type result struct {
	pkg, name string
	status    string // pass, fail, skip
	elapsed   float64
	output    strings.Builder
}

// location is the first `file.go:N: message` line of a test's output.
var location = regexp.MustCompile(`^\s+([^\s:]+\.go):(\d+): ?(.*)$`)

func main() {
	report := flag.String("report", "/report", "where the report is written")
	vet := flag.Bool("vet", true, "run go vet first")
	tags := flag.String("tags", "", "build tags")
	timeout := flag.String("timeout", "", "go test -timeout")
	mod := flag.String("mod", "", "go -mod")
	flag.Parse()
	args := flag.Args()
	var testFlags, packages []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			testFlags = append(testFlags, a)
		} else {
			packages = append(packages, a)
		}
	}
	if err := os.MkdirAll(*report, 0o755); err != nil {
		fail("cannot make the report directory: %v", err)
	}
	common := []string{}
	if *tags != "" {
		common = append(common, "-tags="+*tags)
	}
	if *mod != "" {
		common = append(common, "-mod="+*mod)
	}
	dirs := packageDirs(common, packages)

	if *vet {
		cmd := exec.Command("go", append(append([]string{"vet"}, common...), packages...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "\ngoapp: go vet found problems in %s (above); the tests did not run\n", strings.Join(packages, " "))
			os.Exit(1)
		}
	}

	testArgs := append([]string{"test", "-json", "-coverprofile=" + filepath.Join(*report, "coverage.out")}, common...)
	if !*vet {
		testArgs = append(testArgs, "-vet=off")
	}
	if *timeout != "" {
		testArgs = append(testArgs, "-timeout="+*timeout)
	}
	testArgs = append(append(testArgs, testFlags...), packages...)
	cmd := exec.Command("go", testArgs...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail("%v", err)
	}
	raw, err := os.Create(filepath.Join(*report, "test.json"))
	if err != nil {
		fail("%v", err)
	}
	if err := cmd.Start(); err != nil {
		fail("cannot run go test: %v", err)
	}
	results, order, pkgs := read(io.TeeReader(out, raw))
	runErr := cmd.Wait()
	raw.Close()
	if err := writeJUnit(filepath.Join(*report, "junit.xml"), results, order, pkgs); err != nil {
		fail("cannot write junit.xml: %v", err)
	}

	var failed []*result
	for _, k := range order {
		if r := results[k]; r.status == "fail" && r.name != "" {
			failed = append(failed, r)
		}
	}
	// A failing subtest fails its parent too: name the deepest failures only.
	var shown []*result
	for _, r := range failed {
		parent := false
		for _, o := range failed {
			if o.pkg == r.pkg && strings.HasPrefix(o.name, r.name+"/") {
				parent = true
			}
		}
		if !parent {
			shown = append(shown, r)
		}
	}
	if runErr == nil {
		n := 0
		for _, r := range results {
			if r.name != "" && r.status == "pass" {
				n++
			}
		}
		fmt.Printf("\ngoapp: %d tests passed in %s; report: test.json, junit.xml, coverage.out\n", n, strings.Join(packages, " "))
		return
	}
	fmt.Fprintln(os.Stderr)
	if len(shown) == 0 {
		fmt.Fprintf(os.Stderr, "goapp: go test failed (%v): see its output above\n", runErr)
	}
	for _, r := range shown {
		where := ""
		for _, line := range strings.Split(r.output.String(), "\n") {
			if m := location.FindStringSubmatch(line); m != nil {
				where = fmt.Sprintf(" at %s:%s: %s", relative(dirs[r.pkg], m[1]), m[2], m[3])
				break
			}
		}
		fmt.Fprintf(os.Stderr, "goapp: FAIL %s %s%s\n", r.name, r.pkg, where)
	}
	os.Exit(1)
}

// read follows the test events: each test's result and output, in the order they start.
func read(r io.Reader) (map[string]*result, []string, map[string]*result) {
	results := map[string]*result{}
	pkgs := map[string]*result{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (a build error printed by go test): shown as it is.
			fmt.Println(string(line))
			continue
		}
		// Test output, and (since Go 1.24) the compiler's errors for a package that did not
		// build, which name no package.
		if e.Action == "output" || e.Action == "build-output" {
			fmt.Print(e.Output)
		}
		if e.Package == "" {
			continue
		}
		table := results
		key := e.Package + " " + e.Test
		if e.Test == "" {
			table = pkgs
			key = e.Package
		}
		res, ok := table[key]
		if !ok {
			res = &result{pkg: e.Package, name: e.Test}
			table[key] = res
			if e.Test != "" {
				order = append(order, key)
			}
		}
		switch e.Action {
		case "output":
			res.output.WriteString(e.Output)
		case "pass", "fail", "skip":
			res.status = e.Action
			res.elapsed = e.Elapsed
		}
	}
	return results, order, pkgs
}

// packageDirs maps each package's import path to its directory.
func packageDirs(common, packages []string) map[string]string {
	out := map[string]string{}
	args := append(append([]string{"list", "-e", "-f", "{{.ImportPath}}\t{{.Dir}}"}, common...), packages...)
	b, err := exec.Command("go", args...).Output()
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, d, ok := strings.Cut(line, "\t"); ok {
			out[p] = d
		}
	}
	return out
}

// relative names a file of a package's directory relative to the working directory (the
// module's), as the spec's paths are.
func relative(dir, file string) string {
	if dir == "" {
		return file
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	wd, err := os.Getwd()
	if err != nil {
		return file
	}
	rel, err := filepath.Rel(wd, file)
	if err != nil || strings.HasPrefix(rel, "..") {
		return file
	}
	return rel
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
	Output   string      `xml:"system-out,omitempty"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func writeJUnit(path string, results map[string]*result, order []string, pkgs map[string]*result) error {
	byPkg := map[string][]*result{}
	for _, k := range order {
		r := results[k]
		byPkg[r.pkg] = append(byPkg[r.pkg], r)
	}
	var names []string
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	doc := junitSuites{}
	var total float64
	for _, p := range names {
		pr := pkgs[p]
		s := junitSuite{Name: p, Time: seconds(pr.elapsed)}
		total += pr.elapsed
		for _, r := range byPkg[p] {
			c := junitCase{Classname: p, Name: r.name, Time: seconds(r.elapsed)}
			switch r.status {
			case "fail":
				c.Failure = &junitMessage{Message: "Failed", Text: r.output.String()}
				s.Failures++
			case "skip":
				c.Skipped = &junitMessage{Message: "Skipped", Text: r.output.String()}
				s.Skipped++
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		// A package that failed without a failing test (it did not build): one case says so.
		if pr.status == "fail" && s.Failures == 0 {
			s.Cases = append(s.Cases, junitCase{Classname: p, Name: "build", Time: "0.000", Failure: &junitMessage{Message: "Failed", Text: pr.output.String()}})
			s.Tests++
			s.Failures++
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = seconds(total)
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "goapp: "+format+"\n", a...)
	os.Exit(2)
}
