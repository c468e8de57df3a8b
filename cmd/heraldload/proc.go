package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// the kernel fixes at 100 for its user-space ABI on every architecture Go
// supports (`getconf CLK_TCK` prints it). -clk-tck overrides it.
const userHZ = 100

// proc reads a server process's resource use from /proc (proc(5)).
type proc struct {
	pid    int
	clkTck int
}

// rssBytes returns the process's resident set size (VmRSS in
// /proc/PID/status).
func (p proc) rssBytes() (int64, error) {
	return p.statusBytes("VmRSS")
}

// statusBytes returns a memory figure, such as VmRSS or VmHWM, of
// /proc/PID/status, in bytes.
func (p proc) statusBytes(key string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	return parseStatusKB(data, key)
}

// parseStatusKB extracts the "key:  N kB" line of the text of
// /proc/PID/status and returns N*1024.
func parseStatusKB(status []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected %s line %q", key, sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", key, f[0], err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s line in process status", key)
}

// cpu returns the CPU time the process has used in user and kernel mode
// (utime + stime in /proc/PID/stat).
func (p proc) cpu() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	ticks, err := parseStatTicks(data)
	if err != nil {
		return 0, err
	}
	hz := p.clkTck
	if hz <= 0 {
		hz = userHZ
	}
	return time.Duration(ticks) * time.Second / time.Duration(hz), nil
}

// parseStatTicks returns utime + stime, in clock ticks, from the text of
// /proc/PID/stat. The command name (field 2) is in parentheses and may
// itself contain spaces and parentheses, so fields are counted from the
// last ')'; utime and stime are fields 14 and 15.
func parseStatTicks(stat []byte) (int64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat: no ')' after the command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat: %d fields after the command name", len(f))
	}
	var sum int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed stat time %q: %w", s, err)
		}
		sum += v
	}
	return sum, nil
}
