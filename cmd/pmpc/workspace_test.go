package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["gitlog"] = gitlogCmd
	scriptCmds["gitinit"] = gitinitCmd
}

// gitinitCmd makes DIR a git repository (branch main) and commits every
// file in it as "Someone Else": "gitinit DIR".
func gitinitCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gitinit DIR")
	}
	r, err := git.PlainInitWithOptions(ts.MkAbs(args[0]), &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	ts.Check(err)
	wt, err := r.Worktree()
	ts.Check(err)
	ts.Check(wt.AddWithOptions(&git.AddOptions{All: true}))
	sig := &object.Signature{Name: "Someone Else", Email: "else@example.com", When: time.Now()}
	_, err = wt.Commit("initial", &git.CommitOptions{Author: sig, Committer: sig})
	ts.Check(err)
}

// gitlogCmd prints, for the repository holding DIR, the current branch and
// each commit (newest first) with its author, subject and the files of its
// tree: "gitlog DIR".
func gitlogCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: gitlog DIR")
	}
	r, err := git.PlainOpenWithOptions(ts.MkAbs(args[0]), &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		if neg {
			return
		}
		ts.Fatalf("gitlog: %v", err)
	}
	head, err := r.Head()
	if err != nil {
		if neg {
			return
		}
		ts.Fatalf("gitlog: %v", err)
	}
	if neg {
		ts.Fatalf("gitlog: unexpected commits")
	}
	fmt.Fprintf(ts.Stdout(), "branch %s\n", head.Name().Short())
	it, err := r.Log(&git.LogOptions{From: head.Hash()})
	ts.Check(err)
	ts.Check(it.ForEach(func(c *object.Commit) error {
		fmt.Fprintf(ts.Stdout(), "commit %s <%s> %s\n", c.Author.Name, c.Author.Email, c.Message[:indexNL(c.Message)])
		t, err := c.Tree()
		if err != nil {
			return err
		}
		var files []string
		ts.Check(t.Files().ForEach(func(f *object.File) error {
			files = append(files, f.Name)
			return nil
		}))
		sort.Strings(files)
		for _, f := range files {
			fmt.Fprintf(ts.Stdout(), "  %s\n", f)
		}
		return nil
	}))
}

func indexNL(s string) int {
	for i, c := range s {
		if c == '\n' {
			return i
		}
	}
	return len(s)
}
