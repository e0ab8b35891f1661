// Command workload is the one program in the cluster tests' images: the pod sandbox's pause
// process, and the containers whose behaviour the tests read back from the pod's status.
//
//	workload             wait for SIGTERM or SIGINT, then exit 0 (pause and long-running containers)
//	workload say TEXT    write TEXT to the termination log and exit 0
//	workload ls DIR      write DIR's regular files as "name size" lines to the termination log
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// kubelet copies this file into the container status when the container ends.
const terminationLog = "/dev/termination-log"

func main() {
	if len(os.Args) < 2 {
		wait()
		return
	}
	switch os.Args[1] {
	case "say":
		report(strings.Join(os.Args[2:], " "))
	case "ls":
		if len(os.Args) != 3 {
			fail("usage: workload ls DIR")
		}
		report(listing(os.Args[2]))
	default:
		fail("unknown command " + os.Args[1])
	}
}

func wait() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}

func listing(dir string) string {
	var lines []string
	err := filepath.WalkDir(dir, func(path string, entry os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !entry.Type().IsRegular() {
			return nil
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		relative, _ := filepath.Rel(dir, path)
		lines = append(lines, fmt.Sprintf("%s %d", relative, info.Size()))
		return nil
	})
	if err != nil {
		fail(err.Error())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func report(text string) {
	if err := os.WriteFile(terminationLog, []byte(text), 0o644); err != nil {
		fail(err.Error())
	}
	fmt.Println(text)
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "workload: "+message)
	_ = os.WriteFile(terminationLog, []byte(message), 0o644)
	os.Exit(1)
}
