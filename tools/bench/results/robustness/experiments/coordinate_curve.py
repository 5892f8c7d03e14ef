"""Prints, for the first 10 locked values of a locked lenet5, the attacker's loss, accuracy and |g*w|
at 10 values across [-0.45, 0.45] of that one coordinate (float64, tools/torch_grads.py), and the
value's rank by |g*w| among all weights. Usage: coordinate_curve.py LOCKED.onnx (run from the
repository root with .venv/bin/python). Used for lock_experiments.md."""
import sys, numpy as np, onnx, onnx.numpy_helper as nh, torch
sys.path.insert(0, "tools")
import torch_grads as tg
locked = onnx.load(sys.argv[1]); orig = onnx.load("tools/models/lenet5.onnx")
d = np.load("tools/data/fmnist_train1pct.npz")
x = torch.tensor(d["x"], dtype=torch.float64); y = torch.tensor(d["y"], dtype=torch.int64)
P = {i.name: torch.tensor(nh.to_array(i).astype(np.float64), requires_grad=True) for i in locked.graph.initializer}
O = {i.name: nh.to_array(i) for i in orig.graph.initializer}
inp = locked.graph.input[0].name
def loss_acc(P):
    env = tg.run_graph(locked, P, {inp: x}); out = env[locked.graph.output[0].name]
    l, _ = tg.loss_of(locked, out, y); return l, (out.argmax(1) == y).double().mean().item()
l, a = loss_acc(P); l.backward()
# locked positions
changes = []
for n, t in P.items():
    if n not in O: continue
    diff = np.nonzero(t.detach().numpy().ravel() != O[n].astype(np.float64).ravel())[0]
    for i in diff: changes.append((n, int(i)))
print("loss", l.item(), "acc", a, "locked", len(changes))
# ranks by |g*w| over weights
allgw = []
for n, t in P.items():
    if t.dim() < 2: continue
    gw = (t.grad * t).abs().detach().numpy().ravel()
    for i, v in enumerate(gw): allgw.append((v, n, i))
allgw.sort(reverse=True); rank = {(n, i): r for r, (_, n, i) in enumerate(allgw)}
for (n, i) in changes[:10]:
    t = P[n]; v0 = t.detach().numpy().ravel()[i]; th = O[n].ravel()[i]
    g0 = t.grad.numpy().ravel()[i]
    row = []
    for v in np.linspace(-0.45, 0.45, 10):
        Q = {k: vv.detach().clone() for k, vv in P.items()}
        Q[n].view(-1)[i] = v; Q[n].requires_grad_(True)
        lq, aq = loss_acc(Q); lq.backward(); gq = Q[n].grad.view(-1)[i].item()
        row.append(f"{v:+.2f}:L{lq.item():.2f}/a{aq:.2f}/gw{abs(gq*v):.3f}")
    print(f"{n}[{i}] th={th:+.3f} v={v0:+.3f} g={g0:+.4f} gw={abs(g0*v0):.4f} rank_gw={rank[(n,i)]}")
    print("   ", " ".join(row))
print("gw of rank 32, 160, 320:", allgw[32][0], allgw[160][0], allgw[320][0])
