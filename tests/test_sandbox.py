"""The OS sandbox (bubblewrap), command by command: what a command in it can see and do.

Every test runs real commands in a real bwrap sandbox over a real git repository; what is
checked is what a person would check on the host afterwards: files, git state, processes,
what a server on 127.0.0.1 received.
"""

from __future__ import annotations

import resource
import stat
import sys
from pathlib import Path

import pytest
from conftest import git

from devloop import config as config_mod
from devloop import sandbox
from devloop.errors import ConfigError

KEY = "sk-ant-api03-sandbox-unit-KEY-0123456789abcdef"
TOKEN = "ghp_remote_url_token_0123456789"
PY = sys.executable


@pytest.fixture
def repo(git_repo: Path, outside: Path, monkeypatch) -> Path:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    home = Path.home()
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("HOME-SECRET private key\n")
    (git_repo / "devloop.toml").write_text(f'[commands]\ntest = "{PY} -c pass"\n')
    (git_repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.devloop]\n')
    (git_repo / "src").mkdir()
    (git_repo / "src" / "app.py").write_text("X = 1\n")
    (git_repo / "link").symlink_to(outside)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "chore: project")
    git(git_repo, "remote", "add", "origin", f"https://me:{TOKEN}@github.com/o/r.git")
    git(git_repo, "config", "http.extraheader", "AUTHORIZATION: basic SECRET-HEADER")
    git(git_repo, "config", "credential.helper", "store --file /tmp/creds")
    return git_repo


def runner(repo: Path, **sandbox_cfg) -> sandbox.Runner:
    cfg = config_mod.load(repo)
    private = sandbox_cfg.pop("private", ())
    for key, value in sandbox_cfg.items():
        setattr(cfg.sandbox, key, value)
    made = sandbox.runner(cfg, private=private, required=True)
    assert made.sandboxed
    return made


def sh(repo: Path, command: str, **sandbox_cfg) -> str:
    run = runner(repo, **sandbox_cfg).run(command, repo, 60)
    assert not run.timed_out
    return run.output


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() if p.is_file() else b"dir"
        for p in sorted(path.rglob("*"))
    }


# ------------------------------------------------------------ files


def test_home_is_empty_and_the_users_secrets_are_not_there(repo, monkeypatch):
    monkeypatch.setenv("OLDPWD", str(Path.home()))  # devloop's own: never inherited
    out = sh(repo, "echo oldpwd=$OLDPWD; cd && cat .ssh/id_rsa; cat ~/.ssh/id_rsa; ls -A ~")
    assert "HOME-SECRET" not in out and "No such file" in out
    assert "oldpwd=\n" in out


def test_nothing_outside_the_repository_is_visible_or_writable(repo, outside):
    before = tree(outside)
    out = sh(
        repo,
        f"cat {outside}/secret.txt; cd src && cat ../../outside/secret.txt; "
        f"echo pwned > {outside}/pwned.txt; echo pwned >/dev/null'x'; "
        "grep -R SECRET link/ ; find -L link ; du -L link; grep -f link/secret.txt -r . ; "
        f"cat /work 2>&1; ls {Path.home().parent}",
    )
    assert "OUTSIDE-SECRET" not in out
    assert tree(outside) == before
    assert not Path("/dev/nullx").exists()


def test_sandbox_read_widens_the_view_read_only(repo, outside):
    out = sh(repo, f"cat {outside}/secret.txt; echo x > {outside}/new.txt", read=[str(outside)])
    assert "OUTSIDE-SECRET" in out and "Read-only file system" in out
    assert not (outside / "new.txt").exists()


def test_the_repository_is_writable_but_not_git_config_or_devloop_state(repo):
    (repo / ".devloop").mkdir()
    (repo / ".devloop" / "ledger.db").write_text("ledger")
    hooks = tree(repo / ".git" / "hooks")
    before = {n: (repo / n).read_bytes() for n in ("devloop.toml", "pyproject.toml")}
    out = sh(
        repo,
        "echo new > src/new.py && cat src/new.py; "
        "echo '#!/bin/sh' > .git/hooks/post-commit; "
        "echo '[sandbox]' >> devloop.toml; rm -f devloop.toml; "
        "printf '[tool.devloop.sandbox]\\nmode = \"off\"\\n' >> pyproject.toml; "
        "echo x > .devloop/ledger.db; git commit -qam sneaky; git config core.fsmonitor x",
    )
    assert "new\n" in out and (repo / "src" / "new.py").read_text() == "new\n"
    assert out.count("Read-only file system") >= 4, out
    assert tree(repo / ".git" / "hooks") == hooks
    assert {n: (repo / n).read_bytes() for n in before} == before
    assert (repo / ".devloop" / "ledger.db").read_text() == "ledger"
    assert git(repo, "log", "--format=%s") == "chore: project\nchore: initial commit\n"
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()


def test_git_reads_the_repository_without_its_credentials(repo):
    out = sh(repo, "git status --short; git log --oneline -1; git remote -v; cat .git/config")
    assert "chore: project" in out
    assert "https://github.com/o/r.git" in out
    assert TOKEN not in out and "SECRET-HEADER" not in out and "credential" not in out


def test_devloop_config_created_in_the_sandbox_is_removed(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    git(root, "init", "-q")
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n\n[tool.devloop.commands]\n')
    git(root, "add", "-A")
    git(root, "commit", "-qm", "chore: p")
    run = runner(root).run("printf '[sandbox]\\nmode = \"off\"\\n' > devloop.toml", root, 30)
    assert not (root / "devloop.toml").exists()
    assert "devloop removed devloop.toml" in run.output


def test_private_files_are_masked(repo):
    (repo / "secret.env").write_text("TOKEN=untracked-secret\n")
    (repo / "notes").mkdir()
    (repo / "notes" / "draft.md").write_text("private draft\n")
    out = sh(
        repo,
        "cat secret.env; ls notes; cat notes/draft.md; echo x > secret.env; echo y > notes/z",
        private=["secret.env", "notes/"],
    )
    assert "untracked-secret" not in out and "private draft" not in out
    assert (repo / "secret.env").read_text() == "TOKEN=untracked-secret\n"
    assert not (repo / "notes" / "z").exists()


# ------------------------------------------------------------ processes, environment, network


def test_no_credential_in_any_environment_the_command_can_read(repo):
    out = sh(repo, "env; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done; ls /proc")
    assert KEY not in out and KEY[:20] not in out and KEY[-20:] not in out
    assert "ANTHROPIC" not in out
    pids = [w for w in out.split() if w.isdigit()]
    assert len(pids) < 10, pids  # its own PID namespace: not the host's processes


CONNECT = "{py} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 3); print('CONNECTED')\""


def test_no_network(repo, listener):
    port, accepted = listener
    out = sh(repo, CONNECT.format(py=PY, port=port))
    assert "CONNECTED" not in out and accepted == []


def test_network_when_the_config_allows_it(repo, listener):
    port, accepted = listener
    out = sh(repo, CONNECT.format(py=PY, port=port), network=True)
    assert "CONNECTED" in out and len(accepted) == 1


def test_a_flood_of_output_is_read_with_a_cap(repo):
    """400 MB of output: devloop keeps a head and a tail, never the whole."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = runner(repo).run("head -c 400000000 /dev/zero | tr '\\0' y; echo; echo END", repo, 120)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert run.returncode == 0 and run.output.rstrip().endswith("END")
    assert len(run.output) < 2_000_000 and run.dropped_bytes > 398_000_000
    assert "bytes of output cut here" in run.output
    assert grown_mb < 100, f"devloop grew by {grown_mb:.0f} MB"


# ------------------------------------------------------------ toolchains


def test_the_configured_interpreter_and_its_virtualenv_run_inside(repo):
    out = sh(repo, f"{PY} -c 'import sys, click; print(sys.prefix)'")
    assert out.strip() == sys.prefix


def test_a_home_toolchain_on_path_is_shown_and_the_rest_of_home_is_not(repo, monkeypatch):
    home = Path.home()
    tool = home / ".pyenv" / "bin"
    tool.mkdir(parents=True)
    (tool / "mytool").write_text("#!/bin/sh\necho toolchain ran\n")
    (tool / "mytool").chmod(stat.S_IRWXU)
    other = home / "bin"
    other.mkdir()
    (other / "other").write_text("#!/bin/sh\necho other ran\n")
    (other / "other").chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{tool}:{other}:/usr/bin:/bin")
    out = sh(repo, "mytool; other; ls -A ~")
    assert "toolchain ran" in out and "other ran" not in out
    assert ".ssh" not in out


def test_programs_of_a_command():
    assert sandbox.programs("A=1 env B=2 ruff check . && uv run pytest -q | tee x") == [
        "ruff",
        "uv",
        "tee",
    ]
    assert sandbox.programs("cd sub; make test || true") == ["cd", "make", "true"]
    assert sandbox.first_program("'unbalanced") is None


def test_the_reduced_git_config_keeps_what_git_needs_and_no_secret(tmp_path):
    config = tmp_path / "config"
    config.write_text(
        "[core]\n\trepositoryformatversion = 1\n\tfsmonitor = touch /tmp/pwn\n"
        "\thooksPath = /tmp/hooks\n[extensions]\n\tobjectformat = sha256\n"
        '[remote "origin"]\n\turl = https://u:tok@host/r.git\n\tfetch = +refs/heads/*:refs/x/*\n'
        "[include]\n\tpath = /home/u/.gitconfig-work\n[http]\n\textraheader = X: y\n"
    )
    text = sandbox.reduced_git_config(config).read_text()
    assert 'repositoryformatversion = "1"' in text and 'objectformat = "sha256"' in text
    assert 'url = "https://host/r.git"' in text and "fetch" in text
    for gone in ("fsmonitor", "hooksPath", "tok", "include", "extraheader"):
        assert gone not in text


# ------------------------------------------------------------ no sandbox available


def test_without_bubblewrap_the_runner_refuses_and_names_what_to_install(repo, monkeypatch):
    monkeypatch.setenv(sandbox.BWRAP_VARIABLE, "/nonexistent/bwrap")
    cfg = config_mod.load(repo)
    with pytest.raises(sandbox.SandboxUnavailable) as caught:
        sandbox.runner(cfg, required=True)
    message = caught.value.message
    assert "bubblewrap" in message and "apt-get install bubblewrap" in message
    assert "--unsandboxed" in message and caught.value.exit_code == 2
    fallback = sandbox.runner(cfg)  # the hooks: unsandboxed, still without credentials
    assert not fallback.sandboxed and "ANTHROPIC_API_KEY" not in fallback.env


def test_a_bwrap_that_cannot_make_namespaces_is_reported(repo, monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'bubblewrap 0.0.1'; exit 0; }\n"
        "echo 'bwrap: No permissions to create new namespace' >&2; exit 1\n"
    )
    fake.chmod(stat.S_IRWXU)
    monkeypatch.setenv(sandbox.BWRAP_VARIABLE, str(fake))
    with pytest.raises(sandbox.SandboxUnavailable, match="user namespaces"):
        sandbox.runner(config_mod.load(repo), required=True)


def test_opting_out_runs_unsandboxed_without_credentials(repo):
    cfg = config_mod.load(repo)
    sandbox.opt_out(cfg)
    made = sandbox.runner(cfg, required=True)
    assert not made.sandboxed and made.label == "off (--unsandboxed)"
    out = made.run("env; cat ~/.ssh/id_rsa", repo, 30).output
    assert KEY not in out and "HOME-SECRET" in out  # no sandbox: the home is the user's


# ------------------------------------------------------------ config


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"mode": "maybe"}, "is not a known sandbox mode"),
        ({"env": ["GITHUB_TOKEN"]}, "looks like a credential"),
        ({"env": ["ANTHROPIC_BASE_URL"]}, "looks like a credential"),
        ({"env": ["1BAD"]}, "is not an environment variable name"),
        ({"read": ["relative/dir"]}, "must be an absolute path"),
    ],
)
def test_sandbox_config_is_checked(section, message):
    with pytest.raises(ConfigError, match=message):
        config_mod.parse({"sandbox": section})


def test_sandbox_config_defaults():
    cfg = config_mod.parse({"sandbox": {"network": True, "read": ["~/.m2"], "env": ["CI"]}})
    assert cfg.sandbox.mode == "on" and cfg.sandbox.network and cfg.sandbox.env == ["CI"]
    assert "off_by" not in config_mod.to_dict(cfg)["sandbox"]
