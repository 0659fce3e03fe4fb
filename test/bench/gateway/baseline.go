package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// baseline is the platform built from another revision of this repository, measured in
// the same run as the working tree's (-baseline REV), so "before" and "after" share the
// machine's load, the mock upstream and the load generator.
type baseline struct {
	rev string
	p   *platformtest.Platform
	s   *setup
}

// startBaseline exports rev's tree with git archive (the repository's worktrees and
// index stay untouched), builds its functions/local and starts it under dir.
func startBaseline(ctx context.Context, root, rev, dir string, out *os.File) (*platformtest.Platform, string, error) {
	desc, err := git(ctx, root, "log", "-1", "--format=%h %s", rev)
	if err != nil {
		return nil, "", fmt.Errorf("baseline %q: %w", rev, err)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, "", err
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	untar.Stdin = pipe
	var errs bytes.Buffer
	archive.Stderr, untar.Stderr = &errs, &errs
	if err := untar.Start(); err != nil {
		return nil, "", err
	}
	if err := archive.Run(); err != nil {
		return nil, "", fmt.Errorf("git archive %s: %w: %s", rev, err, errs.String())
	}
	if err := untar.Wait(); err != nil {
		return nil, "", fmt.Errorf("unpack %s: %w: %s", rev, err, errs.String())
	}
	bin, err := platformtest.Build(ctx, src, "./functions/local", dir)
	if err != nil {
		return nil, "", err
	}
	p, err := platformtest.Start(ctx, platformtest.Config{Binary: bin, DataDir: filepath.Join(dir, "data"), AdminKey: "adm-bench-" + randomHex(12), Output: out})
	if err != nil {
		return nil, "", err
	}
	desc = strings.TrimSpace(desc)
	if len(desc) > 72 {
		desc = desc[:71] + "…"
	}
	return p, desc, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errs.String()))
	}
	return out.String(), nil
}

// memory is a platform process's memory at the end of the run (sizes in kB).
type memory struct {
	hwm, rss, anon, file int64
	// binary and store split file: the executable's resident pages, and the embedded
	// store file's mapped pages (which grow with what the platform has stored).
	binary, store int64
	storeSize     int64 // the store file's size
}

func readMemory(pid int) (memory, error) {
	var m memory
	var err error
	if m.hwm, err = statusKB(pid, "VmHWM"); err != nil {
		return m, err
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid)); err == nil {
		var mapped string
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4:
				mapped = ""
				if len(f) >= 6 {
					mapped = f[5]
				}
			case len(f) == 3 && f[0] == "Rss:":
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				switch {
				case mapped != "" && mapped == exe:
					m.binary += kb
				case strings.HasSuffix(mapped, "/plinth.db"):
					m.store += kb
					if st, err := os.Stat(mapped); err == nil {
						m.storeSize = st.Size() / 1024
					}
				}
			}
		}
	}
	m.rss, _ = statusKB(pid, "VmRSS")
	// The embedded store is a memory-mapped file: pages of stored data count towards RSS
	// (RssFile) but belong to the page cache, which the kernel reclaims under pressure;
	// RssAnon is the process's own memory.
	m.anon, _ = statusKB(pid, "RssAnon")
	m.file, _ = statusKB(pid, "RssFile")
	return m, nil
}

// change is after relative to before, as a signed percentage.
func change(before, after float64) string {
	if before == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", 100*(after-before)/before)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func mb(kb int64) float64 { return float64(kb) / 1024 }

// printBeforeAfter prints the baseline's figures and this tree's side by side: CPU per
// request, added latency and throughput per concurrency, cache hits, and memory.
func printBeforeAfter(rev string, rows []row, before, after memory) {
	fmt.Printf("\nbefore/after in the same rounds: before = %s, after = this tree\n", rev)
	fmt.Printf("%4s | %21s %7s | %19s %7s | %17s %7s\n", "conc", "CPU/req µs bef → aft", "change", "+p50 ms bef → aft", "change", "gw rps bef → aft", "change")
	for _, r := range rows {
		bp50, ap50 := r.b.p50-r.d.p50, r.g.p50-r.d.p50
		fmt.Printf("%4d | %9.1f → %9.1f %7s | %8.3f → %8.3f %7s | %7.0f → %7.0f %7s\n", r.c,
			us(r.b.cpuPerReq()), us(r.g.cpuPerReq()), change(us(r.b.cpuPerReq()), us(r.g.cpuPerReq())),
			float64(bp50)/1e6, float64(ap50)/1e6, change(float64(bp50), float64(ap50)),
			r.b.rps(), r.g.rps(), change(r.b.rps(), r.g.rps()))
	}
	for _, r := range rows {
		if r.cacheB == nil || r.cacheGw == nil {
			continue
		}
		fmt.Printf("cache hits c=%-3d CPU/req %.1f → %.1f µs %s, p50 %.3f → %.3f ms, rps %.0f → %.0f\n", r.c,
			us(r.cacheB.cpuPerReq()), us(r.cacheGw.cpuPerReq()), change(us(r.cacheB.cpuPerReq()), us(r.cacheGw.cpuPerReq())),
			float64(r.cacheB.p50)/1e6, float64(r.cacheGw.p50)/1e6, r.cacheB.rps(), r.cacheGw.rps())
	}
	fmt.Printf("memory: anonymous RSS %.1f → %.1f MB %s; file-backed %.1f → %.1f MB; peak RSS (VmHWM) %.1f → %.1f MB %s\n",
		mb(before.anon), mb(after.anon), change(float64(before.anon), float64(after.anon)),
		mb(before.file), mb(after.file), mb(before.hwm), mb(after.hwm), change(float64(before.hwm), float64(after.hwm)))
	var nb, na int
	for _, r := range rows {
		nb += r.b.n
		na += r.g.n
		if r.cacheB != nil && r.cacheGw != nil {
			nb += r.cacheB.n
			na += r.cacheGw.n
		}
	}
	fmt.Printf("  file-backed: the executable %.1f → %.1f MB; the store's mapped file %.1f → %.1f MB (file %.1f → %.1f MB after %d → %d measured requests)\n",
		mb(before.binary), mb(after.binary), mb(before.store), mb(after.store), mb(before.storeSize), mb(after.storeSize), nb, na)
}
