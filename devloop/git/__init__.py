"""git: the one place devloop runs git, hardened (no fsmonitor, no hooks but the commit's).

- repository.py: branches, commits with trailers, diffs, logs, status, worktrees;
- staged.py: checking exactly what is staged (the working tree swapped aside and back);
- hooks.py: installing and removing devloop's git hooks;
- runfiles.py: which untracked files are private, which are by-products, what a run commits.

GitPython is not used: importing it costs ~58 ms (a hook runs in ~62 ms in all), and each of
its commands is a `git` process too, which would need the same hardening a second time.
May import: the leaf modules (errors, proc, state, redaction, resources, interrupts).
"""
