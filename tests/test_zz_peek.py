from loop_harness import build_phase, plan_phase
from test_ab import twice

def test_peek(repo, sim, devloop, agent):
    sim(twice({**plan_phase(), **build_phase()}))
    r = devloop(repo, "ab", "specs/goodbye.md")
    open("/tmp/peek.txt", "w").write(r.out + "\nERR\n" + r.err)
