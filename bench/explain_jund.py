"""Does a JUND model version look at AP-1 sites? (docs/explain-jund.md)

    python bench/explain_jund.py jund/1 [--data ../shared/data/jund-chr22/valid]

ISM of the version (as served) on every positive of the data and as many random negatives; then the share
of |contribution| that falls on perfect TGA[CG]TCA cores against the share of positions they cover, the mean
contribution per base inside and outside them, the contribution-weighted matrix of the cores (+-2 bases)
matched to JASPAR by TomTom, and TF-MoDISco with relaxed settings (metaclusters of 10 seqlets, FDR 0.2).
Prints JSON. Uses the store of $MLFLOW_TRACKING_URI / $SEQSWEEP_HOME like the CLI.
"""

from __future__ import annotations

import argparse
import json
import re
import warnings

import numpy as np

CORE = re.compile(r"(?=TGA[CG]TCA)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="NAME/VERSION")
    p.add_argument("--data", default="../shared/data/jund-chr22/valid")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    from seqsweep.data import load
    from seqsweep.explain import motifs as M
    from seqsweep.explain.attributions import attribute
    from seqsweep.registry import client

    name, _, version = args.model.partition("/")
    client.open_client(None)
    ens = client.load_version(name, int(version)).unwrap_python_model().ensemble
    ds = load(args.data)
    y = ds.y.reshape(-1)
    pos = np.flatnonzero(y == 1)
    neg = np.random.default_rng(0).choice(np.flatnonzero(y == 0), size=len(pos), replace=False)
    sequences = ds.sequences()
    out: dict = {"model": args.model, "data": args.data}
    for label, idx in (("positives", pos), ("negatives", neg)):
        X = ds.X[idx]
        a = attribute(ens, X, method="auto")
        contrib = a.contributions(X)  # (N, L, 4)
        c = contrib.sum(-1)  # (N, L): the contribution of the base present
        seqs = [sequences[i].upper() for i in idx]
        mask = np.zeros_like(c, dtype=bool)
        hits = [[m.start() for m in CORE.finditer(s)] for s in seqs]
        for i, hs in enumerate(hits):
            for h in hs:
                mask[i, h:h + 7] = True
        out[label] = {
            "n": len(idx), "method": a.method, "with_core": sum(bool(h) for h in hits),
            "core_positions": float(mask.mean()),
            "core_abs_contrib_share": float(np.abs(c)[mask].sum() / np.abs(c).sum()),
            "mean_contrib_in_core": float(c[mask].mean()) if mask.any() else None,
            "mean_contrib_elsewhere": float(c[~mask].mean()),
        }
        if label != "positives":
            continue
        win = [(X[i, h - 2:h + 9].astype(float), contrib[i, h - 2:h + 9])
               for i, hs in enumerate(hits) for h in hs if h >= 2 and h + 9 <= X.shape[1]]
        if win:
            ppm, cwm = np.mean([w[0] for w in win], 0), np.mean([w[1] for w in win], 0)
            core = M.match([M.Motif("ap1_cores", 1, len(win), ppm, cwm)])[0]
            out["core_windows"] = len(win)
            out["core_abs_contrib_per_position"] = np.abs(cwm).sum(1).round(3).tolist()
            out["core_tomtom"] = [x.describe() for x in core.matches]
        relaxed = M.match(M.discover(X, a.hypothetical, settings={
            "min_metacluster_size": 10, "final_min_cluster_size": 5, "target_seqlet_fdr": 0.2}))
        out["relaxed_modisco"] = [(m.name, m.n_seqlets, m.consensus, [x.describe() for x in m.matches]) for m in relaxed]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
