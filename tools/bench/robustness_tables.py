"""Markdown tables of one locked model's attacks, for tools/bench/robustness_report.py: the
saliency-repair grid and the fine-tuning grid (locked, from scratch, reinit-touched)."""

STARTS = ("locked", "scratch", "reinit_touched")  # where fine-tuning starts


def pct(x):
    return "—" if x is None else f"{100 * x:.1f} %"


def finetune_best(a, dataset="fmnist_train1pct.npz"):
    """Best accuracy over the grid of each start, on one attacker data set."""
    best = {}
    for d in a["finetune"]:
        if d["dataset"] == dataset:
            best[d["start"]] = max(best.get(d["start"], 0.0), d["accuracy"])
    return best


def repair_table(a):
    ks = sorted({d["k_over_n"] for d in a["repair"]})
    lines = ["| score / reset | " + " | ".join(f"k={m:g}N" for m in ks) + " |",
             "|---|" + "---:|" * len(ks)]
    for score, reset in sorted({(d["score"], d["reset"]) for d in a["repair"]}):
        cells = {d["k_over_n"]: f"{pct(d['accuracy'])} ({d.get('locked_reset', '?')} hit)"
                 for d in a["repair"] if (d["score"], d["reset"]) == (score, reset)}
        label = "\\|g·w\\|" if score == "gw" else "\\|g\\|"
        lines.append(f"| {label} / {reset} | " + " | ".join(cells.get(k, "") for k in ks) + " |")
    return lines


def finetune_table(a):
    runs = {}
    for d in a["finetune"]:
        runs.setdefault((d["dataset"], d["optimizer"], d["lr"], d["epochs"]), {})[d["start"]] = \
            d["accuracy"]
    lines = ["| data | optimizer, lr | epochs | locked | from scratch | reinit touched |",
             "|---|---|---:|---:|---:|---:|"]
    for (ds, opt, lr, ep), v in runs.items():
        lines.append(f"| {ds} | {opt}, {lr:g} | {ep} | " +
                     " | ".join(pct(v.get(s)) for s in STARTS) + " |")
    for ds in sorted({d["dataset"] for d in a["finetune"]}):
        b = finetune_best(a, ds)
        lines.append(f"| {ds} | **best** | | " + " | ".join(f"**{pct(b.get(s))}**"
                                                         for s in STARTS) + " |")
    return lines
